"""Enqueue a training only when its meter's guard is free: one Redis call for everything.

One training per meter at a time, whoever asks (a person, a batch, the scheduler):
``train_guard:{type}:{id}`` holds "{task_id}|{ms}" while that task is not terminal. A request
whose guard is held gets the holder's task id back. The guard used to be its own round trip
before the pipelined PENDING record, telemetry and queue entry, so an enqueue cost two round
trips where bare Dramatiq needs one (``bench/queue_throughput.py``). Here one Lua script checks
the guard and, only when it is free, takes it and runs the very functions the other paths run:
the PENDING record (``progress.TRANSITION_LUA``), the enqueue telemetry
(``telemetry.ENQUEUED_LUA``) and Dramatiq's enqueue (``broker.DRAMATIQ_ENQUEUE_LUA``). The guard,
the record and the queue entry appear together or not at all.

The holder's record, ``task_progress:{held id}``, is read under a key the script computes, not
one declared in KEYS (it is only known inside): fine on one Redis, not on Redis Cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dramatiq.message import Message

from energy_forecast.domain.tasks import TaskProgress, utc_now
from energy_forecast.tasks.broker import (
    DRAMATIQ_ENQUEUE_ARGS,
    DRAMATIQ_ENQUEUE_KEYS,
    DRAMATIQ_ENQUEUE_LUA,
    TaskBroker,
    progress_store,
    telemetry,
)
from energy_forecast.tasks.progress import TRANSITION_ARGS, TRANSITION_KEYS, TRANSITION_LUA, Guard
from energy_forecast.tasks.telemetry import ENQUEUED_ARGS, ENQUEUED_KEYS, ENQUEUED_LUA

GUARD_GRACE_MS = 60_000  # a guard younger than this whose holder has no record yet is still held

_GUARD_LUA = """
local function guard_holder(key, now_ms, grace_ms)
  -- The task id holding the guard, or nil when it is free: no guard, or its holder is terminal, or
  -- its record is gone (expired) and the guard is older than the grace.
  local cur = redis.call("GET", key)
  if not cur then return nil end
  local sep = string.find(cur, "|", 1, true)
  local held = string.sub(cur, 1, sep - 1)
  local record = redis.call("GET", "task_progress:" .. held)
  if record then
    local state = cjson.decode(record)["state"]
    if state ~= "SUCCESS" and state ~= "FAILURE" and state ~= "CANCELLED" then return held end
  elseif tonumber(now_ms) - tonumber(string.sub(cur, sep + 1)) < tonumber(grace_ms) then
    return held  -- just taken by a writer that sends its PENDING record separately
  end
  return nil
end
local function part(t, first, count)
  local out = {}
  for i = 1, count do out[i] = t[first + i - 1] end
  return out
end
"""
_GUARD_ARGS = 4  # "{task_id}|{ms}", ttl_ms, now_ms, grace_ms


def _script() -> str:
    k_record, k_count, k_queue = 2, 2 + TRANSITION_KEYS, 2 + TRANSITION_KEYS + ENQUEUED_KEYS
    a_record = 1 + _GUARD_ARGS
    a_count = a_record + TRANSITION_ARGS
    a_queue = a_count + ENQUEUED_ARGS
    return (
        _GUARD_LUA
        + TRANSITION_LUA
        + ENQUEUED_LUA
        + DRAMATIQ_ENQUEUE_LUA
        + f"""
-- KEYS: guard, then each function's keys; ARGV: the guard's, then each function's
local held = guard_holder(KEYS[1], ARGV[3], ARGV[4])
if held then return held end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
transition(part(KEYS, {k_record}, {TRANSITION_KEYS}), part(ARGV, {a_record}, {TRANSITION_ARGS}))
count_enqueued(part(KEYS, {k_count}, {ENQUEUED_KEYS}), part(ARGV, {a_count}, {ENQUEUED_ARGS}))
dramatiq_enqueue(
  part(KEYS, {k_queue}, {DRAMATIQ_ENQUEUE_KEYS}), part(ARGV, {a_queue}, {DRAMATIQ_ENQUEUE_ARGS})
)
return false
"""
    )


@dataclass(frozen=True, slots=True)
class Prepared:
    """One guarded enqueue, ready to run on a client or to queue on a pipeline."""

    message: Message[Any]
    keys: list[Any]
    args: list[Any]


class GuardedEnqueue:
    """Builds and runs the one-call guarded enqueue for a broker from ``build_broker``."""

    def __init__(self, broker: TaskBroker) -> None:
        self.broker = broker
        self.store = progress_store(broker)
        self.telemetry = telemetry(broker)
        self.script = broker.client.register_script(_script())

    def prepare(self, message: Message[Any], guard_key: str, pending: TaskProgress) -> Prepared:
        """The script's KEYS and ARGV; ``pending`` is the task's PENDING record."""
        enqueued, queue_keys, queue_args = self.broker.prepare_enqueue(message)
        record_keys, record_args = self.store.transition_args(pending, Guard.CREATE)
        count_keys, count_args = self.telemetry.enqueued_args(enqueued)
        now_ms = int(utc_now().timestamp() * 1000)
        guard = [f"{message.message_id}|{now_ms}", int(self.store.retention.total_seconds() * 1000)]
        return Prepared(
            enqueued,
            [guard_key, *record_keys, *count_keys, *queue_keys],
            [*guard, now_ms, GUARD_GRACE_MS, *record_args, *count_args, *queue_args],
        )

    def run(self, prepared: Prepared, client: Any = None) -> Any:
        """Run (or, on a pipeline, queue) the script; its reply is the holder's id, or None."""
        target = self.broker.client if client is None else client
        return self.script(keys=prepared.keys, args=prepared.args, client=target)

    def finish(self, prepared: Prepared, reply: Any) -> str | None:
        """The holder's task id when the guard was held; else runs the enqueue's after-hooks."""
        if reply is not None:
            return reply.decode() if isinstance(reply, bytes) else str(reply)
        self.broker.enqueued(prepared.message, counted=True)
        return None
