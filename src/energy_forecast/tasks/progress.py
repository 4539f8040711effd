"""Task progress, error and cancel records in Redis (the seed's keys).

Keys, all expiring after the retention period:

- ``task_progress:{id}``  JSON ``TaskProgress``
- ``task_error:{id}``     JSON ``TaskError``, written once when a task fails for good
- ``task_cancel:{id}``    cancel flag, checked at start and at every stage boundary
- ``task_events:{id}``    stream of progress records, one per state change (SSE replays it)
- ``task_batch:{id}``     JSON list of the batch's task ids
- ``task_active``         sorted set of non-terminal task ids, scored by first write (ms)

Every progress write is one Lua call that checks the cancel flag and refuses to overwrite a
terminal record, so a cancel racing a stage write or a duplicate delivery cannot resurrect a task.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import redis
import structlog
from dramatiq.middleware import TimeLimitExceeded

from energy_forecast.domain.tasks import TaskCancelled, TaskError, TaskProgress, TaskState, utc_now
from energy_forecast.tasks.batching import current_pipeline, execute, run_script

log = structlog.get_logger(__name__)

ACTIVE_KEY = "task_active"


def progress_key(task_id: str) -> str:
    return f"task_progress:{task_id}"


def error_key(task_id: str) -> str:
    return f"task_error:{task_id}"


def cancel_key(task_id: str) -> str:
    return f"task_cancel:{task_id}"


def events_key(task_id: str) -> str:
    return f"task_events:{task_id}"


def batch_key(batch_id: str) -> str:
    return f"task_batch:{batch_id}"


class Guard(StrEnum):
    """How a write treats the current record."""

    CREATE = "create"  # first record (PENDING); refuses to overwrite anything
    START = "start"  # a worker takes the task: as RUN, and says whether an attempt ran before
    RUN = "run"  # stage: refused when terminal or a cancel is requested
    FINAL = "final"  # SUCCESS/FAILURE/CANCELLED: refused only when already terminal


class Outcome(StrEnum):
    WRITTEN = "WRITTEN"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    TERMINAL = "TERMINAL"  # a terminal record is already there (duplicate delivery, cancel won)
    RESUMED = "RESUMED"  # START written over a running record: a crashed attempt's redelivery
    EXISTS = "EXISTS"


# ``transition(k, a)``: k = progress, cancel, events, active; a = ARGV of ``transition_args``. A
# function, so scripts that write a record among other steps (``tasks.enqueue``) run this same code.
TRANSITION_LUA = """
local function transition(k, a)
  -- a: record, ttl_ms, guard, task_id, terminal, maxlen, now_ms
  local cur = redis.call("GET", k[1])
  local resumed = false
  if cur then
    if a[3] == "create" then return "EXISTS" end
    local state = cjson.decode(cur)["state"]
    if state == "SUCCESS" or state == "FAILURE" or state == "CANCELLED" then return "TERMINAL" end
    resumed = a[3] == "start" and state ~= "PENDING"
  end
  if (a[3] == "run" or a[3] == "start") and redis.call("EXISTS", k[2]) == 1 then return "CANCEL_REQUESTED" end
  redis.call("SET", k[1], a[1], "PX", a[2])
  redis.call("XADD", k[3], "MAXLEN", "~", a[6], "*", "progress", a[1])
  redis.call("PEXPIRE", k[3], a[2])
  if a[5] == "1" then
    redis.call("ZREM", k[4], a[4])
  else
    redis.call("ZADD", k[4], "NX", a[7], a[4])
  end
  if resumed then return "RESUMED" end
  return "WRITTEN"
end
"""
TRANSITION_KEYS, TRANSITION_ARGS = 4, 7
_TRANSITION = TRANSITION_LUA + "return transition(KEYS, ARGV)\n"

_CANCEL = """
-- KEYS: progress, cancel; ARGV: ttl_ms, cancelled record for a PENDING task
local cur = redis.call("GET", KEYS[1])
if not cur then return false end
local state = cjson.decode(cur)["state"]
if state == "SUCCESS" or state == "FAILURE" or state == "CANCELLED" then return state end
redis.call("SET", KEYS[2], "1", "PX", ARGV[1])
return state
"""


class RedisProgressStore:
    """Reads and writes the task records; safe to share between threads."""

    def __init__(self, client: redis.Redis, *, retention: timedelta, events_maxlen: int = 64) -> None:
        self.client = client
        self.retention = retention
        self.events_maxlen = events_maxlen
        self._ttl_ms = int(retention.total_seconds() * 1000)
        self._transition = client.register_script(_TRANSITION)
        self._cancel = client.register_script(_CANCEL)

    # -- progress --------------------------------------------------------------------------------

    def write(self, record: TaskProgress, guard: Guard = Guard.FINAL, *, client: Any = None) -> Outcome:
        """Write ``record`` unless the guard refuses; returns what happened.

        On a pipeline (``client``, or this thread's ``tasks.batching`` pipeline for final records)
        the write is queued and the outcome is not known: WRITTEN is returned.
        """
        if client is None and guard is Guard.FINAL:
            client = current_pipeline()
        keys, args = self.transition_args(record, guard)
        result = run_script(self._transition, keys, args, client if client is not None else self.client)
        if client is not None:  # queued on a pipeline; the caller reads the outcome
            return Outcome.WRITTEN
        return Outcome(_text(result))

    def write_many(self, writes: Sequence[tuple[TaskProgress, Guard]]) -> list[Outcome]:
        """Several guarded writes in one round trip, in order; what each one answered."""
        pipe = self.client.pipeline(transaction=False)
        try:
            for record, guard in writes:
                self.write(record, guard, client=pipe)
            return [Outcome(_text(result)) for result in execute(self.client, pipe)]
        finally:
            pipe.reset()

    def transition_args(self, record: TaskProgress, guard: Guard) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of ``TRANSITION_LUA``'s ``transition`` for writing ``record``."""
        task_id = record.task_id
        keys = [progress_key(task_id), cancel_key(task_id), events_key(task_id), ACTIVE_KEY]
        args = [
            json.dumps(record.to_dict()),
            self._ttl_ms,
            guard.value,
            task_id,
            "1" if record.state.terminal else "0",
            self.events_maxlen,
            int(utc_now().timestamp() * 1000),
        ]
        return keys, args

    def read(self, task_id: str) -> TaskProgress | None:
        return _progress(self.client.get(progress_key(task_id)))

    def read_many(self, task_ids: Sequence[str]) -> list[TaskProgress | None]:
        if not task_ids:
            return []
        return [_progress(raw) for raw in self.client.mget([progress_key(t) for t in task_ids])]

    def list_active(self, limit: int = 1000) -> list[TaskProgress]:
        """Non-terminal tasks, oldest first; ids whose record expired are pruned."""
        task_ids = [_text(t) for t in self.client.zrange(ACTIVE_KEY, 0, limit - 1)]
        records = self.read_many(task_ids)
        stale = [t for t, r in zip(task_ids, records, strict=True) if r is None or r.state.terminal]
        if stale:
            self.client.zrem(ACTIVE_KEY, *stale)
        return [r for r in records if r is not None and not r.state.terminal]

    def events(
        self, task_id: str, after: str = "0", block: timedelta | None = None
    ) -> list[tuple[str, TaskProgress]]:
        """State changes after stream id ``after`` ("0" replays all); blocks up to ``block`` for one."""
        block_ms = None if block is None else max(1, int(block.total_seconds() * 1000))
        reply = self.client.xread({events_key(task_id): after}, block=block_ms)
        out: list[tuple[str, TaskProgress]] = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                raw = fields.get(b"progress", fields.get("progress"))
                record = _progress(raw)
                if record is not None:
                    out.append((_text(entry_id), record))
        return out

    # -- errors ----------------------------------------------------------------------------------

    def write_error(self, task_id: str, error: TaskError) -> None:
        self.client.set(error_key(task_id), json.dumps(error.to_dict()), px=self._ttl_ms)

    def read_error(self, task_id: str) -> TaskError | None:
        raw = self.client.get(error_key(task_id))
        return None if raw is None else TaskError.from_dict(json.loads(raw))

    # -- cancellation ----------------------------------------------------------------------------

    def request_cancel(self, task_id: str) -> TaskState | None:
        """Flag a task for cancellation; returns its state then, or None if unknown.

        A PENDING task is marked CANCELLED at once; a running one stops at its next stage.
        """
        state = self._cancel(keys=[progress_key(task_id), cancel_key(task_id)], args=[self._ttl_ms])
        if state is None:
            return None
        current = TaskState(_text(state))
        if current is TaskState.PENDING:
            self.write(
                TaskProgress(task_id, TaskState.CANCELLED, 0, "cancelled before it started"),
                Guard.FINAL,
            )
        return current

    def cancel_requested(self, task_id: str) -> bool:
        return bool(self.client.exists(cancel_key(task_id)))

    # -- batches ---------------------------------------------------------------------------------

    def write_batch(
        self, batch_id: str, task_ids: Iterable[str], *, client: Any = None, kind: str | None = None
    ) -> None:
        """The batch's task ids; ``kind`` (e.g. "evaluation") is kept beside them when given."""
        target = client or self.client
        target.set(batch_key(batch_id), json.dumps(list(task_ids)), px=self._ttl_ms)
        if kind is not None:
            target.set(f"{batch_key(batch_id)}:kind", kind, px=self._ttl_ms)

    def read_batch_kind(self, batch_id: str) -> str | None:
        raw = self.client.get(f"{batch_key(batch_id)}:kind")
        return None if raw is None else _text(raw)

    def read_batch(self, batch_id: str) -> list[str] | None:
        raw = self.client.get(batch_key(batch_id))
        return None if raw is None else list(json.loads(raw))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _progress(raw: bytes | str | None) -> TaskProgress | None:
    return None if raw is None else TaskProgress.from_dict(json.loads(raw))


class RedisReporter:
    """``ProgressReporter`` for one running task; a requested cancel surfaces at the next stage.

    Past ``deadline`` (the task's time limit) the next stage raises ``TimeLimitExceeded``.
    With ``start`` (the STARTED record, not yet written) the start transition is sent with the
    first stage, or with the final record when the task reports none: one round trip less per
    task. The actor must then do no work before its first stage (the training service reports
    CONNECTING first), since the start's cancel and duplicate checks answer only there.
    """

    def __init__(
        self,
        store: RedisProgressStore,
        task_id: str,
        started_at: str | None,
        *,
        redelivered: bool = False,
        start: TaskProgress | None = None,
        deadline: datetime | None = None,
    ) -> None:
        self.store = store
        self.task_id = task_id
        self.started_at = started_at
        self._redelivered = redelivered
        self._start = start
        self.deadline = deadline
        # What the start transition answered: None while it has not been sent.
        self.start_outcome: Outcome | None = None if start is not None else Outcome.WRITTEN

    @property
    def redelivered(self) -> bool:
        if self._start is not None:
            self._send_start()
        return self._redelivered

    def stage(self, state: TaskState, message: str, details: dict[str, Any] | None = None) -> None:
        if self.deadline is not None and utc_now() >= self.deadline:
            raise TimeLimitExceeded("task exceeded its time limit")
        record = TaskProgress(
            self.task_id, state, state.progress, message, dict(details or {}), self.started_at
        )
        outcome = self._send_start(record) if self._start is not None else self.store.write(record, Guard.RUN)
        if outcome is not Outcome.WRITTEN:
            raise TaskCancelled(self.task_id)

    def queue_start(self, client: Any) -> None:
        """Queue a start not yet sent on ``client`` (the final record's pipeline), before it."""
        if self._start is not None:
            self.store.write(self._start, Guard.START, client=client)
            self._start, self.start_outcome = None, Outcome.WRITTEN

    def _send_start(self, record: TaskProgress | None = None) -> Outcome:
        """The start transition, and ``record``'s stage write after it in the same round trip."""
        if self._start is None:
            return Outcome.WRITTEN
        writes = [(self._start, Guard.START)] + ([(record, Guard.RUN)] if record is not None else [])
        outcomes = self.store.write_many(writes)
        self._start, self.start_outcome = None, outcomes[0]
        if outcomes[0] is Outcome.RESUMED:
            log.info("task_redelivered_after_a_crash")
            self._redelivered = True
            outcomes[0] = Outcome.WRITTEN
        if outcomes[0] is not Outcome.WRITTEN:
            raise TaskCancelled(self.task_id)
        return outcomes[-1]
