"""The read side of task operations: health probe, workers, queue depths, counters, task list, retry.

``TaskMonitor`` reads through its own Redis client with ~1 s socket timeouts and no retries, so a
stopped or hung Redis turns into ``QueueUnavailableError`` within the bound instead of a request
that waits on the broker's 10 s timeouts and reconnect backoff. The keys it reads are written by
``ProgressMiddleware`` (``tasks/progress.py``), ``TelemetryMiddleware`` (``tasks/telemetry.py``) and
Dramatiq's Redis broker (``dramatiq:{queue}``, ``.DQ`` delayed, ``.XQ`` dead letters,
``dramatiq:__heartbeats__``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from dramatiq import Message
from redis.backoff import NoBackoff
from redis.retry import Retry

from energy_forecast.domain.tasks import TaskProgress, TaskState, utc_now
from energy_forecast.errors import ConflictError, NotFoundError, QueueUnavailableError
from energy_forecast.tasks.broker import describe_redis_error, uses_tls
from energy_forecast.tasks.progress import ACTIVE_KEY, Guard, error_key, progress_key
from energy_forecast.tasks.queue import TaskQueue
from energy_forecast.tasks.telemetry import (
    DURATION_BUCKETS_S,
    EVENTS,
    RECENT_KEY,
    TASK_COUNTERS_KEY,
    TRAINING_SECONDS_KEY,
    WORKERS_KEY,
    duration_key,
    meta_key,
)

PROBE_TIMEOUT = timedelta(seconds=1)
SCAN_LIMIT = 5_000


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    """Cumulative bucket counts (upper bound, count) ending with +Inf, plus the sum."""

    buckets: list[tuple[str, int]]
    sum_seconds: float
    count: int


def probe_client(redis_url: str, timeout: timedelta = PROBE_TIMEOUT) -> redis.Redis:
    """A client that fails fast: bounded connect and read, no retry loop."""
    seconds = timeout.total_seconds()
    return redis.Redis.from_url(
        redis_url,
        socket_timeout=seconds,
        socket_connect_timeout=seconds,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=0,
    )


@contextmanager
def _unreachable(action: str, *, tls: bool = False) -> Iterator[None]:
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise QueueUnavailableError(
            f"cannot {action}: Redis is unreachable ({describe_redis_error(exc, tls=tls)})"
        ) from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start:
        return None
    try:
        begun = datetime.fromisoformat(start)
        finished = datetime.fromisoformat(end) if end else utc_now()
    except ValueError:
        return None
    return round(max(0.0, (finished - begun).total_seconds()), 3)


class TaskMonitor:
    """Inspect the task system; every call is bounded by the probe client's timeouts."""

    def __init__(self, queue: TaskQueue, redis_url: str, *, heartbeat_timeout: timedelta) -> None:
        self.queue = queue
        self.namespace: str = queue.broker.namespace
        self.heartbeat_timeout = heartbeat_timeout
        self.client = probe_client(redis_url)
        self.tls = uses_tls(self.client)

    def close(self) -> None:
        self.client.close()

    # -- health -----------------------------------------------------------------------------------

    def ping(self) -> float:
        """Round-trip time in ms. Raises QueueUnavailableError within ~1 s when Redis is down."""
        started = time.perf_counter()
        with _unreachable("reach the task queue", tls=self.tls):
            self.client.ping()
        return (time.perf_counter() - started) * 1000

    def queue_names(self) -> list[str]:
        return sorted(self.queue.broker.get_declared_queues())

    def queue_depths(self) -> dict[str, int]:
        """Messages waiting (``q``), delayed for retry (``q.DQ``) and dead-lettered (``q.XQ``)."""
        names = [n for q in self.queue_names() for n in (q, f"{q}.DQ", f"{q}.XQ")]
        with (
            _unreachable("read queue lengths", tls=self.tls),
            self.client.pipeline(transaction=False) as pipe,
        ):
            for name in names:
                key = f"{self.namespace}:{name}"
                if name.endswith(".XQ"):
                    pipe.zcard(key)  # dead letters: a sorted set scored by time of death
                else:
                    pipe.llen(key)
            counts = pipe.execute()
        return {name: int(count) for name, count in zip(names, counts, strict=True)}

    def workers(self) -> list[dict[str, Any]]:
        """Workers whose Dramatiq heartbeat is younger than the heartbeat timeout.

        A worker announces itself in ``ef_workers`` (TelemetryMiddleware); whether it is alive is
        read from the broker's own ``__heartbeats__`` score for its broker id, which every broker
        command (and our heartbeat thread) refreshes.
        """
        now_ms = int(time.time() * 1000)
        with _unreachable("list workers", tls=self.tls):
            announced = {_text(k): _text(v) for k, v in self.client.hgetall(WORKERS_KEY).items()}
            ids = list(announced)
            scores = self.client.zmscore(f"{self.namespace}:__heartbeats__", ids) if ids else []
        alive: list[dict[str, Any]] = []
        gone: list[str] = []
        limit_ms = self.heartbeat_timeout.total_seconds() * 1000
        for broker_id, score in zip(ids, scores, strict=True):
            info = json.loads(announced[broker_id])
            if score is not None and now_ms - score <= limit_ms:
                alive.append({**info, "last_heartbeat_ms_ago": max(0, int(now_ms - score))})
            elif score is None or now_ms - score > 10 * limit_ms:
                gone.append(broker_id)
        if gone:
            with _unreachable("prune workers", tls=self.tls):
                self.client.hdel(WORKERS_KEY, *gone)
        return sorted(alive, key=lambda w: (str(w.get("hostname")), int(w.get("pid") or 0)))

    def client_count(self) -> int:
        """Connected Redis clients (INFO clients), the seed's ``redis_clients``."""
        with _unreachable("read Redis client count", tls=self.tls):
            return int(self.client.info("clients")["connected_clients"])

    # -- metrics ----------------------------------------------------------------------------------

    def task_counters(self) -> dict[tuple[str, str], int]:
        """``(actor, event) -> count`` for every actor seen, every event present (zero filled)."""
        with _unreachable("read task counters", tls=self.tls):
            raw = self.client.hgetall(TASK_COUNTERS_KEY)
        counts: dict[tuple[str, str], int] = {}
        for field, value in raw.items():
            actor, _, event = _text(field).rpartition(":")
            if event in EVENTS:
                counts[(actor, event)] = int(value)
        for actor in {a for a, _ in counts}:
            for event in EVENTS:
                counts.setdefault((actor, event), 0)
        return counts

    def task_durations(self) -> dict[str, HistogramSnapshot]:
        actors = sorted({a for a, _ in self.task_counters()})
        return {a: self._histogram(duration_key(a)) for a in actors}

    def training_seconds(self) -> HistogramSnapshot:
        return self._histogram(TRAINING_SECONDS_KEY)

    def _histogram(self, key: str) -> HistogramSnapshot:
        with _unreachable("read a histogram", tls=self.tls):
            raw = {_text(k): _text(v) for k, v in self.client.hgetall(key).items()}
        total, buckets = 0, []
        for bound in (*(repr(float(b)) for b in DURATION_BUCKETS_S), "+Inf"):
            total += int(raw.get(bound, 0))
            buckets.append((bound, total))
        return HistogramSnapshot(buckets, float(raw.get("sum", 0.0)), int(raw.get("count", 0)))

    # -- task list and retry ----------------------------------------------------------------------

    def list_tasks(self, state: TaskState | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first: running tasks and those enqueued within the retention period."""
        with _unreachable("list tasks", tls=self.tls):
            recent = [_text(t) for t in self.client.zrevrange(RECENT_KEY, 0, SCAN_LIMIT - 1)]
            active = [_text(t) for t in self.client.zrevrange(ACTIVE_KEY, 0, SCAN_LIMIT - 1)]
            task_ids = list(dict.fromkeys([*active, *recent]))
            if not task_ids:
                return []
            records = self.client.mget([progress_key(t) for t in task_ids])
            metas = self.client.mget([meta_key(t) for t in task_ids])
        rows: list[dict[str, Any]] = []
        for raw, raw_meta in zip(records, metas, strict=True):
            if raw is None:
                continue
            record = TaskProgress.from_dict(json.loads(raw))
            if state is not None and record.state is not state:
                continue
            rows.append(self._row(record, json.loads(raw_meta) if raw_meta else {}))
        rows.sort(key=lambda r: r["enqueued_at"] or r["updated_at"] or "", reverse=True)
        rows = rows[:limit]
        self._mark_dead_letters(rows)
        return rows

    def _row(self, record: TaskProgress, meta: dict[str, Any]) -> dict[str, Any]:
        details = record.details or {}
        terminal = record.state.terminal
        return {
            "task_id": record.task_id,
            "actor": meta.get("actor"),
            "status": record.state.value,
            "progress": record.progress,
            "message": record.message,
            "meter_id": meta.get("meter_id") or details.get("meter_id"),
            "meter_type": meta.get("meter_type") or details.get("meter_type"),
            "enqueued_at": meta.get("enqueued_at"),
            "started_at": record.started_at,
            "updated_at": record.updated_at,
            "duration_seconds": _seconds_between(record.started_at, record.updated_at if terminal else None),
            "error_type": details.get("error_type") if record.state is TaskState.FAILURE else None,
            "dead_lettered": False,
        }

    def _mark_dead_letters(self, rows: list[dict[str, Any]]) -> None:
        failed = [r for r in rows if r["status"] == TaskState.FAILURE.value]
        if not failed:
            return
        dead = self._dead_letter_ids()
        for row in failed:
            row["dead_lettered"] = row["task_id"] in dead

    def _dead_letter_ids(self) -> dict[str, tuple[str, str]]:
        """Dead-lettered task id -> (queue, redis message id); dramatiq keys them by the latter."""
        found: dict[str, tuple[str, str]] = {}
        with _unreachable("read the dead-letter queues", tls=self.tls):
            for queue in self.queue_names():
                for redis_id, raw in self.client.hgetall(f"{self.namespace}:{queue}.XQ.msgs").items():
                    message = Message.decode(raw)
                    found[message.message_id] = (queue, _text(redis_id))
        return found

    def retry(self, task_id: str) -> dict[str, Any]:
        """Re-queue a dead-lettered task as a new task with the same actor and arguments.

        The failed task keeps its FAILURE record (history stays true); the new task links back
        through ``details.retry_of``.

        Raises:
            NotFoundError: no task with this id is known.
            ConflictError: the task exists but is not in a dead-letter queue.
        """
        task_id = str(uuid.UUID(task_id))
        dead = self._dead_letter_ids()
        if task_id not in dead:
            with _unreachable("read the task", tls=self.tls):
                known = self.client.exists(progress_key(task_id))
            if not known:
                raise NotFoundError(f"no task {task_id}: it never existed or its records expired")
            raise ConflictError(
                f"task {task_id} is not dead-lettered; only tasks that failed for good can be retried"
            )
        queue_name, redis_id = dead[task_id]
        with _unreachable("read the dead letter", tls=self.tls):
            raw = self.client.hget(f"{self.namespace}:{queue_name}.XQ.msgs", redis_id)
        if raw is None:  # removed between the two reads (another retry won)
            raise ConflictError(f"task {task_id} was just re-queued by another request")
        old = Message.decode(raw)
        actor = self.queue.broker.get_actor(old.actor_name)
        message = actor.message_with_options(args=old.args, kwargs=old.kwargs)
        details = {k: v for k, v in old.kwargs.items() if k in ("meter_id", "meter_type")}
        details["retry_of"] = task_id
        pending = TaskProgress(message.message_id, TaskState.PENDING, 0, f"retry of {task_id}", details)
        xq = f"{self.namespace}:{queue_name}.XQ"
        with _unreachable("re-queue the task", tls=self.tls):
            # Claim the dead letter first, so two concurrent retries cannot both enqueue it.
            if not self.client.hdel(f"{xq}.msgs", redis_id):
                raise ConflictError(f"task {task_id} was just re-queued by another request")
            self.client.zrem(xq, redis_id)
            self.queue.store.write(pending, Guard.CREATE)
            self.queue.broker.enqueue(message)
        return {"task_id": message.message_id, "retry_of": task_id, "status": "PENDING", "progress": 0}

    def read_error(self, task_id: str) -> dict[str, Any] | None:
        with _unreachable("read the task error", tls=self.tls):
            raw = self.client.get(error_key(task_id))
        return None if raw is None else dict(json.loads(raw))
