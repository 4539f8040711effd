"""TelemetryMiddleware: task counters, durations, a recent-task index and worker presence in Redis.

Tasks run in worker processes on any number of machines, so per-process counters would each see a
slice. Everything here is written to the shared Redis instead and read at scrape time
(``tasks/monitor.py``), which is correct across processes and hosts. Keys:

- ``ef_metrics:tasks``                hash ``{actor}:{event}`` -> count; events in ``EVENTS``
- ``ef_metrics:duration:{actor}``     hash bucket upper bound -> count, plus ``sum`` and ``count``
- ``ef_metrics:training_seconds``     the same shape, from successful training results
- ``task_recent``                     sorted set of task ids scored by enqueue time (ms)
- ``task_meta:{id}``                  JSON ``{actor, queue, meter_id, meter_type, enqueued_at,
                                      redis_message_id}``
- ``ef_workers``                      hash broker id -> JSON worker description, refreshed each beat

Telemetry never fails a task: a Redis error here is logged and dropped.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import redis
import structlog
from dramatiq.middleware import Middleware

from energy_forecast.domain.tasks import utc_now
from energy_forecast.tasks.batching import current_pipeline, run_script

log = structlog.get_logger(__name__)

TASK_COUNTERS_KEY = "ef_metrics:tasks"
TRAINING_SECONDS_KEY = "ef_metrics:training_seconds"
RECENT_KEY = "task_recent"
WORKERS_KEY = "ef_workers"
EVENTS = ("enqueued", "succeeded", "failed", "retried", "skipped")
DURATION_BUCKETS_S: tuple[float, ...] = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600)
RECENT_MAX = 10_000
# Marks the copy of a message handed to ``after_enqueue`` when a script (``tasks.enqueue``) already
# ran ``count_enqueued`` in the same call.
COUNTED_OPTION = "ef_enqueue_counted"

# ``count_enqueued(k, a)``: k = counters, meta, recent; a = ARGV of ``enqueued_args``. A function, so
# a script that enqueues a message itself (``tasks.enqueue``) counts it with this same code.
ENQUEUED_LUA = """
local function count_enqueued(k, a)
  -- a: counter field, meta JSON, ttl_ms, now_ms, task_id, expired-before ms, rank to trim to
  redis.call("HINCRBY", k[1], a[1], 1)
  redis.call("SET", k[2], a[2], "PX", a[3])
  redis.call("ZADD", k[3], a[4], a[5])
  redis.call("ZREMRANGEBYSCORE", k[3], 0, a[6])
  redis.call("ZREMRANGEBYRANK", k[3], 0, a[7])
end
"""
ENQUEUED_KEYS, ENQUEUED_ARGS = 3, 7

# One call for a finished task's counter and its duration histograms (was four commands).
_FINISHED_LUA = """
-- KEYS: counters, duration, training seconds; ARGV: counter field, then per histogram bucket, seconds
-- (an empty bucket: nothing to observe)
redis.call("HINCRBY", KEYS[1], ARGV[1], 1)
for i = 1, 2 do
  local bucket, seconds = ARGV[2 * i], ARGV[2 * i + 1]
  if bucket ~= "" then
    redis.call("HINCRBY", KEYS[i + 1], bucket, 1)
    redis.call("HINCRBYFLOAT", KEYS[i + 1], "sum", seconds)
    redis.call("HINCRBY", KEYS[i + 1], "count", 1)
  end
end
"""


def duration_key(actor: str) -> str:
    return f"ef_metrics:duration:{actor}"


def meta_key(task_id: str) -> str:
    return f"task_meta:{task_id}"


def bucket_field(seconds: float, buckets: tuple[float, ...] = DURATION_BUCKETS_S) -> str:
    """The smallest bucket bound holding ``seconds`` ("+Inf" past the last)."""
    for bound in buckets:
        if seconds <= bound:
            return repr(float(bound))
    return "+Inf"


@contextmanager
def _pipeline(client: redis.Redis) -> Iterator[Any]:
    """This thread's task-path pipeline (``tasks.batching``) when there is one, else our own."""
    shared = current_pipeline()
    if shared is not None:
        yield shared
        return
    with client.pipeline(transaction=False) as pipe:
        yield pipe
        pipe.execute()


class TelemetryMiddleware(Middleware):
    """Counts enqueues and outcomes per actor, times tasks, indexes recent ones, announces workers."""

    def __init__(self, client: redis.Redis, *, retention: timedelta, beat_interval: timedelta) -> None:
        self.client = client
        self.retention = retention
        self.beat_interval = beat_interval
        self._ttl_ms = int(retention.total_seconds() * 1000)
        self._started: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._worker_info: dict[str, Any] = {}
        self._enqueued = client.register_script(ENQUEUED_LUA + "count_enqueued(KEYS, ARGV)\n")
        self._finished = client.register_script(_FINISHED_LUA)

    # -- enqueue side (API or CLI process, and Retries' delayed re-enqueue in workers) -----------

    def after_enqueue(self, broker: Any, message: Any, delay: int | None) -> None:
        if message.options.get("retries") or message.options.get(COUNTED_OPTION):
            return  # a retry of a counted task (counted as "retried"), or counted by the enqueue's script
        keys, args = self.enqueued_args(message)
        pipe = current_pipeline()  # a pipeline with no commands yet is falsy: compare with None
        try:
            run_script(self._enqueued, keys, args, self.client if pipe is None else pipe)
        except redis.RedisError as exc:
            log.warning("telemetry_write_failed", hook="after_enqueue", error=str(exc))

    def enqueued_args(self, message: Any) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of ``ENQUEUED_LUA``'s ``count_enqueued`` for ``message``."""
        now_ms = int(time.time() * 1000)
        meta = {
            "actor": message.actor_name,
            "queue": message.queue_name.removesuffix(".DQ"),
            "meter_id": message.kwargs.get("meter_id"),
            "meter_type": message.kwargs.get("meter_type"),
            "enqueued_at": utc_now().isoformat(),
            # Where the message waits (tasks/waiting.py reads its position from this).
            "redis_message_id": message.options.get("redis_message_id"),
        }
        keys = [TASK_COUNTERS_KEY, meta_key(message.message_id), RECENT_KEY]
        args = [
            f"{message.actor_name}:enqueued",
            json.dumps(meta),
            self._ttl_ms,
            now_ms,
            message.message_id,
            now_ms - self._ttl_ms,
            -(RECENT_MAX + 1),
        ]
        return keys, args

    # -- worker side ------------------------------------------------------------------------------

    def before_process_message(self, broker: Any, message: Any) -> None:
        self._started[message.message_id] = time.perf_counter()

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        started = self._started.pop(message.message_id, None)
        if exception is None:
            event = "succeeded"
        elif message.failed:
            event = "failed"
        else:
            event = "retried"
        actor = message.actor_name
        args: list[Any] = [f"{actor}:{event}"]
        duration = None if started is None else time.perf_counter() - started
        for seconds in (duration, _training_seconds(result)):
            args += ["", 0] if seconds is None else [bucket_field(seconds), repr(float(seconds))]
        pipe = current_pipeline()
        try:
            run_script(
                self._finished,
                [TASK_COUNTERS_KEY, duration_key(actor), TRAINING_SECONDS_KEY],
                args,
                self.client if pipe is None else pipe,
            )
        except redis.RedisError as exc:
            log.warning("telemetry_write_failed", hook="after_process_message", error=str(exc))

    def after_skip_message(self, broker: Any, message: Any) -> None:
        self._started.pop(message.message_id, None)
        try:
            with _pipeline(self.client) as pipe:
                pipe.hincrby(TASK_COUNTERS_KEY, f"{message.actor_name}:skipped", 1)
        except redis.RedisError as exc:
            log.warning("telemetry_write_failed", hook="after_skip_message", error=str(exc))

    # -- worker presence --------------------------------------------------------------------------

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self._worker_info = {
            "broker_id": broker.broker_id,
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "threads": getattr(worker, "worker_threads", None),
            "queues": sorted(getattr(worker, "queues", None) or broker.get_declared_queues()),
            "started_at": utc_now().isoformat(),
        }
        self._announce(broker.broker_id)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._beat, args=(broker.broker_id,), name="ef-presence", daemon=True
        )
        self._thread.start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            self.client.hdel(WORKERS_KEY, broker.broker_id)
        except redis.RedisError as exc:
            log.warning("telemetry_write_failed", hook="before_worker_shutdown", error=str(exc))

    def _announce(self, broker_id: str) -> None:
        # Re-written every beat, so a Redis that restarted empty learns about live workers again.
        info = {**self._worker_info, "seen_at": utc_now().isoformat()}
        try:
            self.client.hset(WORKERS_KEY, broker_id, json.dumps(info))
        except redis.RedisError as exc:
            log.debug("worker_presence_failed", error=str(exc))

    def _beat(self, broker_id: str) -> None:
        while not self._stop.wait(self.beat_interval.total_seconds()):
            self._announce(broker_id)


def _training_seconds(result: Any) -> float | None:
    if not isinstance(result, dict):
        return None
    value = (result.get("details") or {}).get("training_time_seconds")
    return float(value) if isinstance(value, int | float) else None
