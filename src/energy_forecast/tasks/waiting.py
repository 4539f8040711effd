"""Why a task waits: where a queued task stands in the Dramatiq queue its message was sent to.

Telemetry records each message's queue and Redis message id at enqueue (``task_meta:{id}``), so
the position is read from the queue the message is actually in, whatever queues the actors use.
Dramatiq's Redis broker keeps a queue as a list of Redis message ids at ``{namespace}:{queue}``,
taken from the head; a message's index in it is the number of messages ahead of it. A message no
longer in the list has been handed to a worker and is about to start.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from energy_forecast.tasks.telemetry import meta_key


def queue_position(client: redis.Redis, namespace: str, task_id: str) -> dict[str, Any] | None:
    """``{queue, ahead, waiting}`` for a message still in its queue, ``{queue, ahead: 0,
    handed_to_worker: True}`` once a worker holds it; None when nothing is known (no metadata)."""
    where = message_place(client.get(meta_key(task_id)), namespace)
    if where is None:
        return None
    with client.pipeline(transaction=False) as pipe:
        pipe.lpos(where[1], where[2])
        pipe.llen(where[1])
        index, length = pipe.execute()
    return position(where[0], index, length)


def message_place(raw_meta: bytes | str | None, namespace: str) -> tuple[str, str, str] | None:
    """(queue, its Redis list key, the message's Redis id) from a task's metadata, or None."""
    if raw_meta is None:
        return None
    meta = json.loads(raw_meta)
    queue, redis_id = meta.get("queue"), meta.get("redis_message_id")
    if not queue or not redis_id:
        return None
    return queue, f"{namespace}:{queue}", redis_id


def position(queue: str, index: int | None, length: int) -> dict[str, Any]:
    """The position record from the message's index in its queue list (None: a worker holds it)."""
    if index is None:
        return {"queue": queue, "ahead": 0, "handed_to_worker": True}
    return {"queue": queue, "ahead": int(index), "waiting": int(length)}


def waiting_note(position: dict[str, Any] | None) -> str | None:
    """The position in words, for pages and the CLI; None when there is nothing to say."""
    if position is None:
        return None
    if position.get("handed_to_worker"):
        return f"taken by a worker from queue {position['queue']!r}; starting"
    ahead = int(position["ahead"])
    if ahead == 0:
        return f"next in queue {position['queue']!r}"
    tasks = "task" if ahead == 1 else "tasks"
    return f"queued behind {ahead} other {tasks} in queue {position['queue']!r}"
