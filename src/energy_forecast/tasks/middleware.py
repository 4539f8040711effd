"""ProgressMiddleware: the one place that writes task start, success, failure and cancel records.

It applies to actors declared with ``track_progress=True``; the task id is the message id. On
each message it:

- binds ``task_id`` and ``meter_id`` to structlog's contextvars for the actor's log lines;
- skips the message (``SkipMessage``) when a cancel was requested before it started, or when a
  terminal record already exists (a second delivery of a finished task is harmless);
- marks the reporter ``redelivered`` when an earlier attempt started (its worker died, or it
  raised and is retried), so the service can find what that attempt saved;
- records SUCCESS with the actor's result, or, on an exception, FAILURE plus ``task_error:{id}``
  when Retries gave up or the error is not retryable, or a PENDING "retrying" record otherwise;
- exposes the running task's ``RedisReporter`` through ``current_reporter()``; for actors declared
  ``start_with_first_stage`` the STARTED transition goes with the first stage (or the final
  record), and every reporter stops its task at the first stage past the time limit.
"""

from __future__ import annotations

import traceback
from contextvars import ContextVar
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import redis
import structlog
from dramatiq.middleware import Middleware, SkipMessage, TimeLimitExceeded

from energy_forecast.domain.tasks import TaskError, TaskProgress, TaskState, utc_now
from energy_forecast.errors import EnergyForecastError, ErrorType
from energy_forecast.logging import hide_paths, redact_text
from energy_forecast.tasks.batching import current_pipeline
from energy_forecast.tasks.progress import Guard, Outcome, RedisProgressStore, RedisReporter

log = structlog.get_logger(__name__)

_current: ContextVar[RedisReporter | None] = ContextVar("ef_task_reporter", default=None)


def current_reporter() -> RedisReporter:
    """The reporter of the task this worker thread is running (only inside a tracked actor)."""
    reporter = _current.get()
    if reporter is None:
        raise RuntimeError("no tracked task is running in this thread (actor lacks track_progress=True?)")
    return reporter


def classify(exc: BaseException) -> ErrorType:
    """Map an exception to the seed's error_type code."""
    if isinstance(exc, EnergyForecastError):
        # A task error is always classified: a domain error of no seed class failed the training.
        return exc.error_type or ErrorType.TRAINING_ERROR
    if isinstance(exc, TimeLimitExceeded):
        return ErrorType.TIMEOUT_ERROR
    if isinstance(exc, MemoryError):
        return ErrorType.MEMORY_ERROR
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError | ConnectionError | TimeoutError):
        return ErrorType.CONNECTION_ERROR
    return ErrorType.TRAINING_ERROR


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, TimeLimitExceeded):
        return "task exceeded its time limit"
    return redact_text(str(exc)) or type(exc).__name__


class ProgressMiddleware(Middleware):
    def __init__(self, store: RedisProgressStore) -> None:
        self.store = store

    @property
    def actor_options(self) -> set[str]:
        return {"track_progress", "start_with_first_stage"}

    def _tracked(self, broker: Any, message: Any) -> bool:
        actor = broker.get_actor(message.actor_name)
        return bool(message.options.get("track_progress", actor.options.get("track_progress", False)))

    def before_process_message(self, broker: Any, message: Any) -> None:
        if not self._tracked(broker, message):
            return
        task_id = message.message_id
        structlog.contextvars.bind_contextvars(task_id=task_id, meter_id=message.kwargs.get("meter_id"))
        started_at = utc_now().isoformat()
        retries = message.options.get("retries", 0)
        text = "worker picked up task" + (f" (retry {retries})" if retries else "")
        record = TaskProgress(task_id, TaskState.STARTED, TaskState.STARTED.progress, text, {}, started_at)
        # A swallowed asynchronous TimeLimit exception (see _past_time_limit) would let a task run
        # on to its save: the reporter also stops it at the first stage boundary past the limit.
        deadline = _deadline(broker, message, started_at)
        if broker.get_actor(message.actor_name).options.get("start_with_first_stage"):
            reporter = RedisReporter(
                self.store, task_id, started_at, redelivered=bool(retries), start=record, deadline=deadline
            )
            _current.set(reporter)
            return
        outcome = self.store.write(record, Guard.START)
        if outcome is Outcome.CANCEL_REQUESTED:
            self._cancelled(task_id, "cancelled before it started", 0, started_at)
            raise SkipMessage("cancelled")
        if outcome is Outcome.TERMINAL:
            log.info("task_duplicate_skipped")
            raise SkipMessage("task already finished")
        # An attempt that died after its save but before its SUCCESS left a running record (or,
        # after an error, a retry count): the service then looks for its saved result first.
        redelivered = outcome is Outcome.RESUMED or bool(retries)
        if outcome is Outcome.RESUMED:
            log.info("task_redelivered_after_a_crash")
        _current.set(
            RedisReporter(self.store, task_id, started_at, redelivered=redelivered, deadline=deadline)
        )

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        reporter = _current.get()
        if reporter is None or reporter.task_id != message.message_id:
            return
        try:
            reporter.queue_start(current_pipeline() or self.store.client)
            if exception is None:
                self._succeeded(reporter, result)
            elif message.failed:
                if _past_time_limit(broker, message, reporter.started_at):
                    exception = _timed_out(exception)
                self._failed(reporter, exception, message.options.get("traceback"))
            else:
                self._retrying(reporter, exception, message.options.get("retries", 0))
        finally:
            self._reset()

    def after_skip_message(self, broker: Any, message: Any) -> None:
        reporter = _current.get()
        try:
            if reporter is None or reporter.task_id != message.message_id:
                return
            if reporter.start_outcome is Outcome.TERMINAL:
                log.info("task_duplicate_skipped")
                return
            if reporter.start_outcome is Outcome.CANCEL_REQUESTED:
                self._cancelled(reporter.task_id, "cancelled before it started", 0, reporter.started_at)
                return
            if self.store.cancel_requested(reporter.task_id):
                last = self.store.read(reporter.task_id)
                self._cancelled(
                    reporter.task_id,
                    "cancelled while running",
                    last.progress if last else 0,
                    reporter.started_at,
                )
        finally:
            self._reset()

    def after_nack(self, broker: Any, message: Any) -> None:
        # AgeLimit fails a message before any of our hooks ran: file it as expired.
        if not self._tracked(broker, message):
            return
        record = self.store.read(message.message_id)
        if record is not None and record.state is TaskState.PENDING:
            error = TaskError("task expired in the queue before a worker ran it", ErrorType.TIMEOUT_ERROR, "")
            self._write_failure(message.message_id, error, 0, None)

    # -- records ---------------------------------------------------------------------------------

    def _succeeded(self, reporter: RedisReporter, result: Any) -> None:
        result = result if isinstance(result, dict) else {}
        record = TaskProgress(
            reporter.task_id,
            TaskState.SUCCESS,
            TaskState.SUCCESS.progress,
            str(result.get("message", "task completed")),
            dict(result.get("details") or {}),
            reporter.started_at,
        )
        self.store.write(record, Guard.FINAL)
        log.info("task_succeeded")

    def _failed(self, reporter: RedisReporter, exc: BaseException, tb: str | None) -> None:
        last = self.store.read(reporter.task_id)
        self._final_failure(
            reporter.task_id, exc, tb or _format(exc), last.progress if last else 0, reporter.started_at
        )

    def _final_failure(
        self, task_id: str, exc: BaseException, tb: str, progress: int, started_at: str | None
    ) -> None:
        self._write_failure(task_id, TaskError(_error_text(exc), classify(exc), tb), progress, started_at)

    def _write_failure(self, task_id: str, error: TaskError, progress: int, started_at: str | None) -> None:
        log.warning("task_failed_detail", error=error.error)  # the record below hides paths
        error = replace(
            error, error=hide_paths(error.error), traceback=hide_paths(redact_text(error.traceback))
        )
        self.store.write_error(task_id, error)
        details = {"error_type": error.error_type.value, "error": error.error}
        record = TaskProgress(task_id, TaskState.FAILURE, progress, error.error, details, started_at)
        self.store.write(record, Guard.FINAL)
        log.warning("task_failed", error_type=error.error_type.value, error=error.error)

    def _retrying(self, reporter: RedisReporter, exc: BaseException, retries: int) -> None:
        error = hide_paths(_error_text(exc))
        details = {"retries": retries, "error_type": classify(exc).value, "error": error}
        text = f"retry {retries} scheduled after {type(exc).__name__}: {error}"
        record = TaskProgress(reporter.task_id, TaskState.PENDING, 0, text, details, reporter.started_at)
        self.store.write(record, Guard.FINAL)
        log.info("task_retry_scheduled", retries=retries, error_type=details["error_type"])

    def _cancelled(self, task_id: str, text: str, progress: int, started_at: str | None) -> None:
        record = TaskProgress(task_id, TaskState.CANCELLED, progress, text, {}, started_at)
        self.store.write(record, Guard.FINAL)
        log.info("task_cancelled")

    def _reset(self) -> None:
        _current.set(None)
        structlog.contextvars.unbind_contextvars("task_id", "meter_id")


def _deadline(broker: Any, message: Any, started_at: str | None) -> datetime | None:
    """When the task's time limit runs out; None without a limit."""
    actor_limit_ms = broker.get_actor(message.actor_name).options.get("time_limit")
    limit_ms = message.options.get("time_limit", actor_limit_ms)
    if not limit_ms or started_at is None:
        return None
    return datetime.fromisoformat(started_at) + timedelta(milliseconds=limit_ms)


def _past_time_limit(broker: Any, message: Any, started_at: str | None) -> bool:
    """Whether the task ran past its time limit, whatever exception it ended with.

    TimeLimit interrupts the thread with an asynchronous exception; when it lands inside a C
    extension's callback (XGBoost's ``DataIter`` while it builds the training matrix) the library
    swallows it and fails with its own error, which would be filed as TRAINING_ERROR.
    """
    deadline = _deadline(broker, message, started_at)
    return deadline is not None and utc_now() >= deadline


def _timed_out(exc: BaseException) -> BaseException:
    if isinstance(exc, TimeLimitExceeded):
        return exc
    timeout = TimeLimitExceeded()
    timeout.__cause__ = exc
    timeout.__traceback__ = exc.__traceback__
    return timeout


def _format(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=30))
