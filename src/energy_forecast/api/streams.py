"""Training streams that cannot starve the API: their own Redis pool, no thread, and caps.

A stream spends most of its life in a blocking ``XREAD`` (up to ``sse.HEARTBEAT``). Done on the
API's Redis pool from a worker thread, as it used to be, 21 open streams held 20 pool connections
and 21 of the 40 threads that every synchronous route shares: task routes answered "Too many
connections". Here every read of a stream is made with ``redis.asyncio`` on a pool of its own,
sized to the stream cap, so a stream holds no thread and no connection of the task routes.

``StreamGate`` counts the streams open in this process, per caller (API key, or client address
when anonymous) and in all; beyond ``EF_LIMITS__STREAMS_PER_KEY`` or ``EF_LIMITS__MAX_STREAMS`` a new
stream is refused with 429 and ``Retry-After``.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis
from starlette.exceptions import HTTPException

from energy_forecast.domain.tasks import TaskProgress
from energy_forecast.errors import QueueUnavailableError
from energy_forecast.logging import redact_text
from energy_forecast.tasks.progress import events_key
from energy_forecast.tasks.queue import public_record, status_from_raw, status_keys
from energy_forecast.tasks.telemetry import meta_key
from energy_forecast.tasks.waiting import message_place, position, waiting_note

# A stream's reads block for at most sse.HEARTBEAT (5 s); the socket allows twice that.
SOCKET_TIMEOUT_S = 10.0
# Generous: a burst of new streams opens its connections all at once, on one event loop.
CONNECT_TIMEOUT_S = 10.0
# Seconds a refused client is asked to wait: a stream ends within EF_STREAM_MAX_DURATION anyway.
RETRY_AFTER_S = 5
# The largest Redis stream id part (an unsigned 64-bit integer).
MAX_ID_PART = 2**64 - 1


def check_event_id(value: str) -> None:
    """Refuse (400) a ``Last-Event-ID`` whose parts pass Redis's 64-bit stream id range."""
    if value == "0":
        return
    ms, _, seq = value.partition("-")
    if int(ms) > MAX_ID_PART or int(seq) > MAX_ID_PART:
        raise HTTPException(
            400,
            f"Last-Event-ID {value[:48]!r} is out of range: each part of a stream id is at most "
            f"{MAX_ID_PART}; send the id of an event this stream sent, or 0 to start over",
        )


class StreamGate:
    """Open streams of this process, per caller and in all (one event loop: no lock needed)."""

    def __init__(self, per_key: int, total: int) -> None:
        self.per_key = per_key
        self.total = total
        self._open: Counter[str] = Counter()

    @property
    def open_streams(self) -> int:
        return sum(self._open.values())

    def admit(self, identity: str) -> None:
        """Count one more stream for ``identity``, or raise the 429 that refuses it."""
        if self.open_streams >= self.total:
            raise _too_many(f"this server has {self.total} streams open (EF_LIMITS__MAX_STREAMS)")
        if self._open[identity] >= self.per_key:
            raise _too_many(
                f"this client has {self.per_key} streams open (EF_LIMITS__STREAMS_PER_KEY); close one, "
                "or poll GET /trainmodel/status/{task_id}"
            )
        self._open[identity] += 1

    def release(self, identity: str) -> None:
        self._open[identity] -= 1
        if self._open[identity] <= 0:
            del self._open[identity]


def _too_many(reason: str) -> HTTPException:
    return HTTPException(
        429,
        f"too many open streams: {reason}; retry after {RETRY_AFTER_S} s",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


class StreamReader:
    """The reads of ``sse.task_events`` (events after an id, the status) on a pool of their own."""

    # Dramatiq's Redis namespace: the queues whose positions ``waiting`` reads.
    namespace = "dramatiq"

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client

    @classmethod
    def from_url(cls, url: str, max_connections: int) -> StreamReader:
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=CONNECT_TIMEOUT_S,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
        )
        return cls(aioredis.Redis(connection_pool=pool))

    async def events(
        self, task_id: str, after: str = "0", block: timedelta | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """State changes after stream id ``after``; waits up to ``block`` for the first one."""
        block_ms = None if block is None else max(1, int(block.total_seconds() * 1000))
        try:
            reply = await self.client.xread({events_key(task_id): after}, block=block_ms)
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
            raise _unreachable(exc) from exc
        out: list[tuple[str, dict[str, Any]]] = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                raw = fields.get(b"progress", fields.get("progress"))
                if raw is not None:
                    record = TaskProgress.from_dict(json.loads(raw))
                    out.append((_text(entry_id), public_record(record)))
        return out

    async def read_status(self, task_id: str) -> dict[str, Any] | None:
        progress, result, error = status_keys(task_id)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.get(progress)
                pipe.lindex(result, 0)
                pipe.get(error)
                raw = await pipe.execute()
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
            raise _unreachable(exc) from exc
        status = status_from_raw(*raw)
        if status is not None and status["status"] == "PENDING":
            status.update(await self.waiting(task_id))
        return status

    async def waiting(self, task_id: str) -> dict[str, Any]:
        """``{"queue": {...}, "waiting": "..."}`` for a queued task (as ``TaskQueue.waiting``), or {}."""
        try:
            where = message_place(await self.client.get(meta_key(task_id)), self.namespace)
            if where is None:
                return {}
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.lpos(where[1], where[2])
                pipe.llen(where[1])
                index, length = await pipe.execute()
        except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
            raise _unreachable(exc) from exc
        found = position(where[0], index, length)
        note = waiting_note(found)
        return {} if note is None else {"queue": found, "waiting": note}

    async def aclose(self) -> None:
        await self.client.aclose()


def _unreachable(exc: BaseException) -> QueueUnavailableError:
    return QueueUnavailableError(
        f"cannot read task events: the task queue (Redis) is unreachable ({redact_text(str(exc))})"
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def open_stream_reader(app: Any, redis_url: str, max_streams: int) -> None:
    """The lifespan's part: the streams' own pool, one connection per allowed stream and a spare."""
    app.state.stream_reader = StreamReader.from_url(redis_url, max_connections=max_streams + 1)


async def close_stream_reader(app: Any) -> None:
    reader = getattr(app.state, "stream_reader", None)
    app.state.stream_reader = None
    if reader is not None:
        await reader.aclose()
