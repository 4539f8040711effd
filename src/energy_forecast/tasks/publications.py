"""The index of published forecasts in Redis: what ``/forecasts/.../latest``, health and metrics read.

The points themselves live in the series store's ``forecast`` measurement (Grafana reads them
there); this index holds, per meter, the last publication's summary so an API host answers
"latest" without recomputing and without scanning the store. Keys (``{m}`` = ``{type}:{meter_id}``):

- ``ef_forecast:published``    hash ``{m}`` -> JSON ``PublishedForecast`` of the last success
- ``ef_forecast:errors``       hash ``{m}`` -> JSON ``{issued_at, error}`` of the last failure
- ``ef_forecast:issued``       sorted set ``{m}`` scored by issue time (epoch s): ages, staleness
- ``ef_forecast:live_cv``      sorted set ``{m}`` scored by live CV(RMSE) %: fleet median
- ``ef_forecast:holdout_cv``   sorted set ``{m}`` scored by the active model's hold-out CV(RMSE) %
- ``ef_forecast:drift``        sorted set ``{m}`` scored by live / hold-out: drifted meters, worst first

Sorted sets keep every fleet-wide figure O(log N) to read at 100,000 meters (a median is one
ZRANGE at the middle rank); nothing here is per-process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from energy_forecast.domain.meters import MeterType

PUBLISHED_KEY = "ef_forecast:published"
ERRORS_KEY = "ef_forecast:errors"
ISSUED_KEY = "ef_forecast:issued"
LIVE_KEY = "ef_forecast:live_cv"
HOLDOUT_KEY = "ef_forecast:holdout_cv"
DRIFT_KEY = "ef_forecast:drift"
ALL_KEYS = (PUBLISHED_KEY, ERRORS_KEY, ISSUED_KEY, LIVE_KEY, HOLDOUT_KEY, DRIFT_KEY)


def member(meter_type: MeterType | str, meter_id: str) -> str:
    return f"{MeterType(meter_type).value}:{meter_id}"


def split_member(value: bytes | str) -> tuple[MeterType, str]:
    text = value.decode() if isinstance(value, bytes) else value
    meter_type, _, meter_id = text.partition(":")
    return MeterType(meter_type), meter_id


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@dataclass(frozen=True, slots=True)
class FreshnessSummary:
    """Fleet-wide publication ages in seconds (None when nothing was published)."""

    published_meters: int
    oldest_age_s: float | None
    newest_age_s: float | None
    older_than: int  # meters whose newest publication is older than the threshold asked for


class PublicationIndex:
    """Read and write the index; safe to share between threads (redis-py pools connections)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def record(self, results: Iterable[dict[str, Any]]) -> None:
        """File each meter's result (``PublishedForecast.to_dict()``) in one round trip."""
        with self.client.pipeline(transaction=False) as pipe:
            for result in results:
                key = member(result["meter_type"], result["meter_id"])
                if result.get("error"):
                    failure = {"issued_at": result["issued_at"], "error": result["error"]}
                    pipe.hset(ERRORS_KEY, key, json.dumps(failure))
                    continue
                pipe.hset(PUBLISHED_KEY, key, json.dumps(result))
                pipe.hdel(ERRORS_KEY, key)
                pipe.zadd(ISSUED_KEY, {key: _epoch(result["issued_at"])})
                live, holdout = result.get("live_cv_rmse_percent"), result.get("holdout_cv_rmse_percent")
                _score(pipe, LIVE_KEY, key, live)
                _score(pipe, HOLDOUT_KEY, key, holdout)
                _score(pipe, DRIFT_KEY, key, live / holdout if live is not None and holdout else None)
            pipe.execute()

    def latest(self, meter_type: MeterType | str, meter_id: str) -> dict[str, Any] | None:
        raw = self.client.hget(PUBLISHED_KEY, member(meter_type, meter_id))
        return None if raw is None else dict(json.loads(raw))

    def last_error(self, meter_type: MeterType | str, meter_id: str) -> dict[str, Any] | None:
        raw = self.client.hget(ERRORS_KEY, member(meter_type, meter_id))
        return None if raw is None else dict(json.loads(raw))

    def many(self, meters: list[tuple[MeterType, str]]) -> list[dict[str, Any] | None]:
        """The last publication of each meter asked for (one HMGET; the fleet page's rows)."""
        if not meters:
            return []
        raws = self.client.hmget(PUBLISHED_KEY, [member(t, m) for t, m in meters])
        return [None if raw is None else dict(json.loads(raw)) for raw in raws]

    def drifted(self, factor: float, limit: int = 10_000) -> list[tuple[MeterType, str, float]]:
        """Meters whose live CV(RMSE) exceeds ``factor`` x their hold-out figure, worst first."""
        rows = self.client.zrevrangebyscore(
            DRIFT_KEY, "+inf", f"({factor}", start=0, num=limit, withscores=True
        )
        return [(*split_member(m), float(score)) for m, score in rows]

    def worst(self, count: int) -> list[tuple[MeterType, str, float]]:
        """The ``count`` meters with the highest live / hold-out ratio (bounded metric labels)."""
        rows = self.client.zrevrange(DRIFT_KEY, 0, count - 1, withscores=True)
        return [(*split_member(m), float(score)) for m, score in rows]

    def median(self, key: str) -> float | None:
        """Median score of one of the CV(RMSE) sorted sets (the lower middle for an even count)."""
        count = int(self.client.zcard(key))
        if count == 0:
            return None
        rows = self.client.zrange(key, (count - 1) // 2, (count - 1) // 2, withscores=True)
        return float(rows[0][1]) if rows else None

    def freshness(self, older_than_s: float, now: float | None = None) -> FreshnessSummary:
        now = time.time() if now is None else now
        with self.client.pipeline(transaction=False) as pipe:
            pipe.zcard(ISSUED_KEY)
            pipe.zrange(ISSUED_KEY, 0, 0, withscores=True)
            pipe.zrange(ISSUED_KEY, -1, -1, withscores=True)
            pipe.zcount(ISSUED_KEY, "-inf", f"({now - older_than_s}")
            count, oldest, newest, stale = pipe.execute()
        return FreshnessSummary(
            published_meters=int(count),
            oldest_age_s=max(0.0, now - float(oldest[0][1])) if oldest else None,
            newest_age_s=max(0.0, now - float(newest[0][1])) if newest else None,
            older_than=int(stale),
        )

    def forget(self, meters: Iterable[tuple[MeterType, str]]) -> int:
        """Drop meters from every key (their models are gone); returns how many were indexed."""
        keys = [member(t, m) for t, m in meters]
        if not keys:
            return 0
        with self.client.pipeline(transaction=False) as pipe:
            pipe.hdel(PUBLISHED_KEY, *keys)
            pipe.hdel(ERRORS_KEY, *keys)
            for key in (ISSUED_KEY, LIVE_KEY, HOLDOUT_KEY, DRIFT_KEY):
                pipe.zrem(key, *keys)
            return int(pipe.execute()[0])


def _score(pipe: Any, key: str, name: str, value: float | None) -> None:
    if value is None:
        pipe.zrem(key, name)
    else:
        pipe.zadd(key, {name: float(value)})
