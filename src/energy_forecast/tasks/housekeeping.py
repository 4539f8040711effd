"""Redis side of retention: task indexes whose records expired, index entries of meters without a model.

Task records (``task_progress:{id}`` and friends) expire on their own; the indexes that point
at them (``task_recent``, ``task_active``) and the publication index do not, so the retention
task trims them here.
"""

from __future__ import annotations

from datetime import timedelta

import redis

from energy_forecast.domain.meters import MeterType
from energy_forecast.domain.tasks import utc_now
from energy_forecast.tasks.progress import ACTIVE_KEY, progress_key
from energy_forecast.tasks.publications import PUBLISHED_KEY, PublicationIndex, split_member
from energy_forecast.tasks.telemetry import RECENT_KEY

SCAN_BATCH = 1000


def prune_task_indexes(client: redis.Redis, retention: timedelta) -> int:
    """Drop index entries older than ``retention`` or whose record expired; returns how many."""
    cutoff_ms = int((utc_now() - retention).timestamp() * 1000)
    removed = int(client.zremrangebyscore(RECENT_KEY, 0, cutoff_ms))
    for key in (ACTIVE_KEY, RECENT_KEY):
        ids = [i.decode() if isinstance(i, bytes) else i for i in client.zrange(key, 0, -1)]
        for first in range(0, len(ids), SCAN_BATCH):
            chunk = ids[first : first + SCAN_BATCH]
            with client.pipeline(transaction=False) as pipe:
                for task_id in chunk:
                    pipe.exists(progress_key(task_id))
                alive = pipe.execute()
            gone = [t for t, exists in zip(chunk, alive, strict=True) if not exists]
            if gone:
                removed += int(client.zrem(key, *gone))
    return removed


def prune_publications(client: redis.Redis, with_model: set[tuple[MeterType, str]]) -> int:
    """Forget published-forecast entries of meters that no longer have an active model."""
    indexed = [split_member(m) for m in client.hkeys(PUBLISHED_KEY)]
    return PublicationIndex(client).forget([m for m in indexed if m not in with_model])
