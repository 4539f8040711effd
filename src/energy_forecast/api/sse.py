"""The training stream as Server-Sent Events that ``EventSource`` and plain readers both follow.

- Every state change is one *data-only* event (no ``event:`` line), so ``EventSource.onmessage``
  and a reader of ``data:`` lines see each one; its ``id`` is the Redis stream entry id.
- The final event (SUCCESS, FAILURE, CANCELLED) carries what ``GET /trainmodel/status/{id}``
  answers then: ``result`` on success, ``error`` on failure.
- A reconnect sends ``Last-Event-ID``; the stream resumes after that event. A finished task's
  stream sends what is left (possibly nothing), then a long ``retry:`` so that a browser, which
  reconnects whenever a stream ends, comes back at most once an hour instead of every 3 s.
- While the task is queued, its events carry ``queue`` and ``waiting`` (how many tasks are ahead
  of it in its queue), and a new event without an ``id`` is sent whenever that number moves.
- ``: keep-alive`` comments every ``HEARTBEAT`` while nothing happens, so proxies with idle
  timeouts (nginx 60 s, many load balancers 30 s) keep a long training stage's stream open.
- One connection lasts at most ``max_duration`` (``EF_STREAM_MAX_DURATION``), then ends with a
  short ``retry:``: the browser resumes at once with ``Last-Event-ID``, and no connection (nor a
  client that never reads the end of a queued task) is held open for ever.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

TERMINAL = frozenset({"SUCCESS", "FAILURE", "CANCELLED"})
# A Redis stream entry id ("<ms>-<seq>"); "0" means from the start.
EVENT_ID_PATTERN = r"^(0|[0-9]{1,20}-[0-9]{1,20})$"
# Under the 15 s that the slowest common proxy idle timeouts allow, and under the Redis socket
# timeout (10 s) that bounds one blocking read.
HEARTBEAT = timedelta(seconds=5)
# Sent before a stream closes: how long a browser waits before it reconnects (ms).
FINISHED_RETRY_MS = 3_600_000
# While a task runs, a dropped connection should come back quickly.
RUNNING_RETRY_MS = 1_000
# Used when a finished task's event entries have expired before its status record.
FINAL_ONLY_ID = "0-1"


class EventReader(Protocol):
    """What a stream reads (``api.streams.StreamReader``: its own Redis pool, no thread)."""

    async def events(
        self, task_id: str, after: str = "0", block: timedelta | None = None
    ) -> list[tuple[str, dict[str, Any]]]: ...

    async def read_status(self, task_id: str) -> dict[str, Any] | None: ...

    async def waiting(self, task_id: str) -> dict[str, Any]: ...


def data_event(event_id: str, record: dict[str, Any]) -> str:
    return f"id: {event_id}\ndata: {json.dumps(record, separators=(',', ':'))}\n\n"


async def task_events(
    queue: EventReader,
    task_id: str,
    after: str,
    disconnected: Callable[[], Awaitable[bool]],
    heartbeat: timedelta = HEARTBEAT,
    max_duration: timedelta | None = None,
) -> AsyncIterator[str]:
    """The events of ``task_id`` after stream id ``after``, until the task ends, the client goes,
    or ``max_duration`` has passed (the client then resumes with ``Last-Event-ID``)."""
    deadline = None if max_duration is None else time.monotonic() + max_duration.total_seconds()
    told_waiting: str | None = None  # the last queue position sent, so it is sent again only when it moves
    yield f"retry: {RUNNING_RETRY_MS}\n\n"
    while not await disconnected():
        if deadline is not None and time.monotonic() >= deadline:
            return
        if deadline is not None:
            heartbeat = min(heartbeat, timedelta(seconds=max(deadline - time.monotonic(), 0.001)))
        batch = await queue.events(task_id, after, heartbeat)
        for event_id, record in batch:
            after = event_id
            if record["status"] in TERMINAL:
                final = await queue.read_status(task_id)
                yield data_event(event_id, final if final is not None else record)
                yield f"retry: {FINISHED_RETRY_MS}\n\n"
                return
            if record["status"] == "PENDING":
                record = {**record, **await queue.waiting(task_id)}
                told_waiting = record.get("waiting")
            yield data_event(event_id, record)
        if batch:
            continue
        current = await queue.read_status(task_id)
        if current is None or current["status"] in TERMINAL:
            if current is not None and after == "0":
                # The events expired before the status: the final state is still worth sending.
                yield data_event(FINAL_ONLY_ID, current)
            yield f"retry: {FINISHED_RETRY_MS}\n\n"
            return
        if current["status"] == "PENDING" and current.get("waiting") not in (None, told_waiting):
            # Not a state change: no id, so a reconnect still resumes after the last real event.
            told_waiting = current["waiting"]
            yield f"data: {json.dumps(current, separators=(',', ':'))}\n\n"
            continue
        yield ": keep-alive\n\n"
