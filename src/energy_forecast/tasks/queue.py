"""The task façade the API uses: enqueue training, read status, list, cancel, batches.

``TaskQueue`` wraps a broker from ``build_broker`` and its declared actors. Status dicts follow
the seed: ``task_id, status, progress, message`` plus ``result`` on success and ``error`` on
failure. A Redis that cannot be reached becomes ``QueueUnavailableError``.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import redis

from energy_forecast.domain.meters import MeterType, validate_meter_id
from energy_forecast.domain.tasks import TaskProgress, TaskState
from energy_forecast.errors import QueueUnavailableError
from energy_forecast.services.evaluation import fleet_summary
from energy_forecast.tasks.actors import Actors
from energy_forecast.tasks.batching import execute, pipelined
from energy_forecast.tasks.broker import (
    TaskBroker,
    describe_redis_error,
    progress_store,
    uses_tls,
)
from energy_forecast.tasks.enqueue import GuardedEnqueue, Prepared
from energy_forecast.tasks.progress import Guard, error_key, progress_key
from energy_forecast.tasks.results import RESULT_NAMESPACE
from energy_forecast.tasks.waiting import queue_position, waiting_note

TimeBound = str | datetime | None
EVALUATION = "evaluation"
PUBLICATION = "publication"
BATCH_ROUND_TRIP = 500  # tasks enqueued per Redis round trip in a batch


def guard_key(meter_type: MeterType | str, meter_id: str) -> str:
    """The meter's training guard (``tasks.enqueue``)."""
    return f"train_guard:{MeterType(meter_type).value}:{meter_id}"


@contextmanager
def redis_errors(action: str, *, tls: bool = False) -> Iterator[None]:
    """Redis unreachable as every task-queue caller says it: 503 (``QueueUnavailableError``), TLS hint."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise QueueUnavailableError(
            f"cannot {action}: the task queue (Redis) is unreachable ({describe_redis_error(exc, tls=tls)}); "
            "check REDIS_URL or start Redis, or unset REDIS_URL to use the embedded one"
        ) from exc


def _iso(value: TimeBound) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


class TaskQueue:
    """Enqueue and inspect tasks; safe to share between request handlers."""

    def __init__(self, broker: TaskBroker, actors: Actors) -> None:
        self.broker = broker
        self.actors = actors
        self.store = progress_store(broker)
        self.client: redis.Redis = broker.client
        self.tls = uses_tls(self.client)
        self._once = GuardedEnqueue(broker)

    def ping(self) -> None:
        with redis_errors("reach the task queue", tls=self.tls):
            self.client.ping()

    def enqueue_training(
        self,
        meter_id: str,
        meter_type: MeterType | str,
        start: TimeBound = None,
        end: TimeBound = None,
        *,
        force: bool = False,
    ) -> str:
        """Record PENDING, then send; returns the task id (== the Dramatiq message id).

        A meter whose training is already queued or running gets that task's id back instead
        of a second task (``enqueue_training_once`` says which happened).

        Raises:
            InvalidIdentifierError: the meter id is not a safe slug.
            QueueUnavailableError: Redis cannot be reached.
        """
        return self.enqueue_training_once(meter_id, meter_type, start, end, force=force)[0]

    def enqueue_training_once(
        self,
        meter_id: str,
        meter_type: MeterType | str,
        start: TimeBound = None,
        end: TimeBound = None,
        *,
        force: bool = False,
    ) -> tuple[str, bool]:
        """``(task_id, True)`` for a new task, ``(running_task_id, False)`` when one is in flight."""
        prepared = self._prepare(meter_id, meter_type, start, end, force=force)
        with redis_errors("enqueue training", tls=self.tls):
            held = self._once.finish(prepared, self._once.run(prepared))
        return (prepared.message.message_id, True) if held is None else (held, False)

    def _prepare(
        self, meter_id: str, meter_type: MeterType | str, start: TimeBound, end: TimeBound, *, force: bool
    ) -> Prepared:
        kwargs: dict[str, Any] = {
            "meter_id": validate_meter_id(meter_id),
            "meter_type": MeterType(meter_type).value,
            "start": _iso(start),
            "end": _iso(end),
        }
        if force:
            kwargs["force"] = True
        message = self.actors.train_meter.message_with_options(kwargs=kwargs)
        details = {"meter_id": meter_id, "meter_type": kwargs["meter_type"]}
        pending = TaskProgress(message.message_id, TaskState.PENDING, 0, "Task submitted", details)
        return self._once.prepare(message, guard_key(meter_type, meter_id), pending)

    def read_status(self, task_id: str) -> dict[str, Any] | None:
        """The seed's status shape, or None for an unknown (or expired) task."""
        with redis_errors("read task status", tls=self.tls), self.client.pipeline(transaction=False) as pipe:
            pipe.get(progress_key(task_id))
            pipe.lindex(f"{RESULT_NAMESPACE}:{task_id}", 0)
            pipe.get(error_key(task_id))
            raw_progress, raw_result, raw_error = pipe.execute()
        status = status_from_raw(raw_progress, raw_result, raw_error)
        if status is not None and status.get("status") == TaskState.PENDING.value:
            status.update(self.waiting(task_id))
        return status

    def waiting(self, task_id: str) -> dict[str, Any]:
        """``{"queue": {...}, "waiting": "queued behind 3 other tasks ..."}`` for a queued task, or {}."""
        with redis_errors("read the queue", tls=self.tls):
            position = queue_position(self.client, self.broker.namespace, task_id)
        note = waiting_note(position)
        return {} if position is None or note is None else {"queue": position, "waiting": note}

    def list_active(self) -> list[dict[str, Any]]:
        with redis_errors("list tasks", tls=self.tls):
            return [_public(r) for r in self.store.list_active()]

    def cancel(self, task_id: str) -> TaskState | None:
        """Request cancellation; returns the state at request time (None: unknown task).

        A queued task never starts; a running one stops at its next stage boundary.
        """
        with redis_errors("cancel the task", tls=self.tls):
            return self.store.request_cancel(task_id)

    def enqueue_batch(
        self,
        meters: Sequence[tuple[str, MeterType | str]],
        start: TimeBound = None,
        end: TimeBound = None,
    ) -> tuple[str, list[str]]:
        """Enqueue one training task per (meter_id, meter_type); returns (batch_id, task_ids)."""
        for meter_id, meter_type in meters:  # validate all before sending any
            validate_meter_id(meter_id)
            MeterType(meter_type)
        batch_id = str(uuid.uuid4())
        task_ids: list[str] = []
        for first in range(0, len(meters), BATCH_ROUND_TRIP):  # a 10,000-meter batch in seconds
            chunk = [
                self._prepare(m, t, start, end, force=False)
                for m, t in meters[first : first + BATCH_ROUND_TRIP]
            ]
            # One round trip per chunk: the guarded enqueues queued on a pipeline, then their replies.
            pipe = self.client.pipeline(transaction=False)
            with redis_errors("enqueue training", tls=self.tls), pipe:
                for prepared in chunk:
                    self._once.run(prepared, pipe)
                replies = execute(self.client, pipe)
                for prepared, reply in zip(chunk, replies, strict=True):
                    held = self._once.finish(prepared, reply)
                    task_ids.append(prepared.message.message_id if held is None else held)
        with redis_errors("record the batch", tls=self.tls):
            self.store.write_batch(batch_id, task_ids)
        return batch_id, task_ids

    def read_batch(self, batch_id: str) -> dict[str, Any] | None:
        """Counts per state, mean progress and each task's status; None for an unknown batch."""
        with redis_errors("read the batch", tls=self.tls):
            task_ids = self.store.read_batch(batch_id)
            if task_ids is None:
                return None
            records = self.store.read_many(task_ids)
        states = Counter(r.state.value if r else "EXPIRED" for r in records)
        done = all(r is None or r.state.terminal for r in records)
        progress = [100 if (r is None or r.state.terminal) else r.progress for r in records]
        return {
            "batch_id": batch_id,
            "total": len(task_ids),
            "done": done,
            "progress": round(sum(progress) / len(progress)) if progress else 100,
            "states": dict(states),
            "tasks": [
                _public(r) if r else {"task_id": t, "status": "EXPIRED", "progress": 0, "message": ""}
                for t, r in zip(task_ids, records, strict=True)
            ],
        }

    def enqueue_evaluation(
        self,
        meters: Sequence[tuple[str, MeterType | str, int | None]],
        test_size: float = 0.2,
        *,
        batch_id: str | None = None,
    ) -> tuple[str, list[str]]:
        """One fleet-test task per (meter_id, meter_type, model version); returns (batch_id, task_ids).
        ``batch_id``: the id already claimed for it (``tasks.quotas.FleetClaims``), else a new one.

        Raises:
            InvalidIdentifierError: a meter id is not a safe slug (checked before anything is sent).
            QueueUnavailableError: Redis cannot be reached.
        """
        messages = []
        for meter_id, meter_type, version in meters:
            kwargs = {
                "meter_id": validate_meter_id(meter_id),
                "meter_type": MeterType(meter_type).value,
                "version": version,
                "test_size": test_size,
            }
            messages.append(self.actors.evaluate_meter.message_with_options(kwargs=kwargs))
        batch_id = batch_id or str(uuid.uuid4())
        with redis_errors("enqueue the fleet test", tls=self.tls):
            for first in range(0, len(messages), BATCH_ROUND_TRIP):
                with pipelined(self.client) as pipe:
                    for message in messages[first : first + BATCH_ROUND_TRIP]:
                        details = {k: message.kwargs[k] for k in ("meter_id", "meter_type", "version")}
                        pending = TaskProgress(
                            message.message_id, TaskState.PENDING, 0, "Evaluation submitted", details
                        )
                        self.store.write(pending, Guard.CREATE, client=pipe)
                        self.broker.enqueue(message)
            self.store.write_batch(batch_id, [m.message_id for m in messages], kind=EVALUATION)
        return batch_id, [m.message_id for m in messages]

    def batch_kind(self, batch_id: str) -> str | None:
        """What a batch holds (``EVALUATION``, ``PUBLICATION``); None for trainings."""
        with redis_errors("read the batch", tls=self.tls):
            return self.store.read_batch_kind(batch_id)

    def read_evaluation(self, batch_id: str) -> dict[str, Any] | None:
        """``read_batch`` plus, once every task is final, the fleet table and medians; None when
        the id is unknown or not a fleet test."""
        with redis_errors("read the fleet test", tls=self.tls):
            if self.store.read_batch_kind(batch_id) != EVALUATION:
                return None
        status = self.read_batch(batch_id)
        if status is None:
            return None
        if status["done"]:
            rows = [
                t["details"] if t["status"] == "SUCCESS" else {**t.get("details", {}), "error": t["message"]}
                for t in status["tasks"]
            ]
            status.update(fleet_summary(rows))
        return status

    def enqueue_publication(
        self,
        meters: Sequence[tuple[str, MeterType | str]],
        *,
        days: int = 7,
        chunk_size: int = 50,
        groups: bool = False,
    ) -> tuple[str, list[str]]:
        """One publication task per chunk of ``chunk_size`` meters; returns (batch_id, task_ids).

        With ``groups`` the last chunk also publishes every group's total (after its meters).

        The batch record is the same ``task_batch:{id}`` list as a training batch, so
        ``read_batch`` reads both; ``publication_state`` adds the overall state.
        """
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        pairs = [[validate_meter_id(m), MeterType(t).value] for m, t in meters]
        batch_id = str(uuid.uuid4())
        task_ids = []
        with redis_errors("enqueue forecast publication", tls=self.tls):
            for first in range(0, len(pairs), chunk_size):
                chunk = pairs[first : first + chunk_size]
                kwargs: dict[str, Any] = {"meters": chunk, "days": days}
                if groups and first + chunk_size >= len(pairs):
                    kwargs["groups"] = True
                message = self.actors.publish_forecasts.message_with_options(kwargs=kwargs)
                details = {"kind": "publication", "batch_id": batch_id, "meters": len(chunk)}
                pending = TaskProgress(message.message_id, TaskState.PENDING, 0, "Task submitted", details)
                self.store.write(pending, Guard.CREATE)
                self.broker.enqueue(message)
                task_ids.append(message.message_id)
            self.store.write_batch(batch_id, task_ids, kind=PUBLICATION)
        return batch_id, task_ids

    def enqueue_retention(
        self, *, forecast_retention: timedelta, keep_versions: int, task_retention: timedelta
    ) -> str:
        """One retention task (``tasks.actors.housekeeper``); returns its task id."""
        message = self.actors.retention.message_with_options(
            kwargs={
                "forecast_retention_s": forecast_retention.total_seconds(),
                "keep_versions": keep_versions,
                "task_retention_s": task_retention.total_seconds(),
            }
        )
        pending = TaskProgress(
            message.message_id, TaskState.PENDING, 0, "Task submitted", {"kind": "retention"}
        )
        with redis_errors("enqueue retention", tls=self.tls):
            self.store.write(pending, Guard.CREATE)
            self.broker.enqueue(message)
        return message.message_id

    def events(
        self, task_id: str, after: str = "0", block: timedelta | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """State changes after stream id ``after`` for SSE; keep ``block`` under the 10 s socket timeout."""
        with redis_errors("read task events", tls=self.tls):
            return [(eid, _public(r)) for eid, r in self.store.events(task_id, after, block)]


def status_keys(task_id: str) -> tuple[str, str, str]:
    """The keys ``status_from_raw`` reads: progress record, result list (first item), error."""
    return progress_key(task_id), f"{RESULT_NAMESPACE}:{task_id}", error_key(task_id)


def status_from_raw(raw_progress: Any, raw_result: Any, raw_error: Any) -> dict[str, Any] | None:
    """The seed's status shape from the raw values of ``status_keys``; None without a record."""
    if raw_progress is None:
        return None
    record = TaskProgress.from_dict(json.loads(raw_progress))
    status = _public(record)
    if record.state is TaskState.SUCCESS:
        status["result"] = (
            json.loads(raw_result)
            if raw_result is not None
            else {"status": "success", "message": record.message, "details": record.details}
        )
    if raw_error is not None and record.state is TaskState.FAILURE:
        status["error"] = json.loads(raw_error)
    return status


def public_record(record: TaskProgress) -> dict[str, Any]:
    """One progress record in the shape of the status routes and stream events."""
    return _public(record)


def batch_state(states: Sequence[str]) -> str:
    """One word for a batch: PENDING (none started), RUNNING, SUCCESS (all), FAILURE (any, once done)."""
    if not states or all(s == TaskState.SUCCESS.value for s in states):
        return TaskState.SUCCESS.value
    finished = {TaskState.SUCCESS.value, TaskState.FAILURE.value, TaskState.CANCELLED.value, "EXPIRED"}
    if all(s in finished for s in states):
        return TaskState.FAILURE.value
    if all(s == TaskState.PENDING.value for s in states):
        return TaskState.PENDING.value
    return "RUNNING"


def _public(record: TaskProgress) -> dict[str, Any]:
    return {
        "task_id": record.task_id,
        "status": record.state.value,
        "progress": record.progress,
        "message": record.message,
        "details": record.details,
        "started_at": record.started_at,
        "updated_at": record.updated_at,
    }
