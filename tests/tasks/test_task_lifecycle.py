"""Training tasks through a real Redis: progress, results, errors, retries, limits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis

from energy_forecast.domain.tasks import TaskState
from energy_forecast.errors import (
    FlatlineError,
    InsufficientDataError,
    NoDataFoundError,
    StorageError,
    TrainingError,
)
from energy_forecast.tasks import context
from energy_forecast.tasks.progress import RedisReporter, error_key, progress_key
from tests.tasks.conftest import TaskEnv
from tests.tasks.fakes import FakeTraining, wait_for

pytestmark = pytest.mark.integration

DLQ = "dramatiq:default.XQ"


def finished(env: TaskEnv, task_id: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        status = env.queue.read_status(task_id)
        return status if status and status["status"] in {"SUCCESS", "FAILURE", "CANCELLED"} else None

    return check


def test_progress_states_are_recorded_in_order_and_result_is_stored(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    env = task_env()
    task_id = env.queue.enqueue_training("meter_001", "electricity", "2024-01-01", None)
    assert env.queue.read_status(task_id)["status"] == "PENDING"

    env.start_worker()
    status = wait_for(finished(env, task_id))

    assert status["status"] == "SUCCESS" and status["progress"] == 100
    assert status["result"]["status"] == "success"
    assert status["result"]["details"]["meter_id"] == "meter_001"
    states = [(e["status"], e["progress"]) for _, e in env.queue.events(task_id)]
    assert states == [
        ("PENDING", 0),
        ("STARTED", 5),
        ("CONNECTING", 10),
        ("FETCHING_DATA", 15),
        ("VALIDATING_DATA", 35),
        ("TRAINING_MODEL", 50),
        ("SAVING_MODEL", 90),
        ("SUCCESS", 100),
    ]
    assert env.queue.list_active() == []


def test_a_training_that_reports_no_stage_still_records_its_start_before_its_end(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    """Training's STARTED is sent with its first stage, or with the final record when there is none."""
    env = task_env()
    context.configure(lambda: None, lambda: None, train=lambda *a, **k: {"meter_id": k["meter_id"]})
    task_id = env.queue.enqueue_training("meter_001", "electricity")
    env.start_worker()

    assert wait_for(finished(env, task_id))["status"] == "SUCCESS"
    assert [e["status"] for _, e in env.queue.events(task_id)] == ["PENDING", "STARTED", "SUCCESS"]
    assert env.queue.list_active() == []


def test_records_and_result_expire_after_the_retention(task_env: Callable[..., TaskEnv]) -> None:
    env = task_env(retention=timedelta(seconds=60))
    task_id = env.queue.enqueue_training("meter_001", "water")
    env.start_worker()
    wait_for(finished(env, task_id))

    client = env.broker.client
    for key in (progress_key(task_id), f"dramatiq-result:{task_id}", f"task_events:{task_id}"):
        assert 55_000 < client.pttl(key) <= 60_000, key


def test_result_key_disappears_when_retention_ends(task_env: Callable[..., TaskEnv]) -> None:
    env = task_env(retention=timedelta(seconds=1))
    task_id = env.queue.enqueue_training("meter_001", "water")
    env.start_worker()
    wait_for(finished(env, task_id))

    wait_for(lambda: env.queue.read_status(task_id) is None, timeout=3)
    assert not env.broker.client.exists(f"dramatiq-result:{task_id}")


@pytest.mark.parametrize(
    ("error", "error_type"),
    [
        pytest.param(lambda: NoDataFoundError("no rows"), "NO_DATA_FOUND", id="no-data"),
        pytest.param(lambda: InsufficientDataError("3 rows"), "INSUFFICIENT_DATA", id="insufficient"),
        pytest.param(lambda: FlatlineError("stuck"), "INSUFFICIENT_DATA", id="flatline"),
        pytest.param(lambda: TrainingError("diverged"), "TRAINING_ERROR", id="training"),
        pytest.param(lambda: MemoryError(), "MEMORY_ERROR", id="memory"),
        pytest.param(lambda: StorageError("influx down"), "CONNECTION_ERROR", id="storage"),
        pytest.param(lambda: redis.ConnectionError("refused"), "CONNECTION_ERROR", id="redis"),
        pytest.param(lambda: RuntimeError("bug"), "TRAINING_ERROR", id="generic"),
    ],
)
def test_failure_is_filed_under_the_seed_error_type(
    task_env: Callable[..., TaskEnv], fake: FakeTraining, error: Callable[[], BaseException], error_type: str
) -> None:
    env = task_env(max_retries=0)
    fake.fail = error
    task_id = env.queue.enqueue_training("meter_001", "electricity")
    env.start_worker()

    status = wait_for(finished(env, task_id))

    assert status["status"] == "FAILURE"
    assert status["progress"] == 50  # where it stood when it failed
    assert status["error"]["error_type"] == error_type
    assert status["error"]["traceback"]
    # FAILURE is recorded in after_process_message; the worker nacks into the dead-letter queue
    # just after, so the queue may lag the record by a moment.
    wait_for(lambda: env.broker.client.zcard(DLQ) >= 1)
    assert env.broker.client.zcard(DLQ) == 1


def test_domain_errors_are_not_retried(task_env: Callable[..., TaskEnv], fake: FakeTraining) -> None:
    env = task_env(max_retries=3)
    fake.fail = lambda: NoDataFoundError("no readings for meter_001")
    task_id = env.queue.enqueue_training("meter_001", "electricity")
    env.start_worker()

    wait_for(finished(env, task_id))

    assert len(fake.calls) == 1
    # FAILURE is recorded in after_process_message; the worker nacks into the dead-letter queue
    # just after, so the queue may lag the record by a moment.
    wait_for(lambda: env.broker.client.zcard(DLQ) >= 1)
    assert env.broker.client.zcard(DLQ) == 1


def test_transient_error_is_retried_with_backoff_then_dead_lettered(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    env = task_env(max_retries=2)
    fake.fail = lambda: StorageError("influx timed out")
    task_id = env.queue.enqueue_training("meter_001", "electricity")
    env.start_worker()

    status = wait_for(finished(env, task_id))

    assert len(fake.calls) == 3
    gaps = [b[1] - a[1] for a, b in zip(fake.calls, fake.calls[1:], strict=False)]
    assert all(gap >= 0.05 for gap in gaps)
    assert status["status"] == "FAILURE"
    assert status["error"]["error_type"] == "CONNECTION_ERROR"
    assert env.broker.client.exists(error_key(task_id))
    # FAILURE is recorded in after_process_message; the worker nacks into the dead-letter queue
    # just after, so the queue may lag the record by a moment.
    wait_for(lambda: env.broker.client.zcard(DLQ) >= 1)
    assert env.broker.client.zcard(DLQ) == 1
    retry_events = [e for _, e in env.queue.events(task_id) if e["details"].get("retries")]
    assert [e["details"]["retries"] for e in retry_events] == [1, 2]
    # A retry may follow an attempt that saved before it raised: the service is told to look.
    assert fake.redelivered == [False, True, True]


def test_time_limit_is_filed_as_timeout(task_env: Callable[..., TaskEnv], fake: FakeTraining) -> None:
    env = task_env(time_limit=timedelta(seconds=1))
    fake.hold = 5.0
    task_id = env.queue.enqueue_training("meter_001", "electricity")
    env.start_worker()

    status = wait_for(finished(env, task_id), timeout=8)

    assert status["error"]["error_type"] == "TIMEOUT_ERROR"
    assert len(fake.calls) == 1  # not retried: it would time out again


def test_a_task_left_running_by_a_dead_worker_is_run_again_as_redelivered(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    env = task_env()
    task_id = env.queue.enqueue_training("meter_001", "electricity")
    # What a worker that died while saving leaves behind: its last stage, no final record.
    RedisReporter(env.queue.store, task_id, None).stage(TaskState.SAVING_MODEL, "Saving the model bundle")
    env.start_worker()

    status = wait_for(finished(env, task_id))

    assert status["status"] == "SUCCESS"
    assert fake.redelivered == [True]


def test_a_first_delivery_is_not_marked_redelivered(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    env = task_env()
    task_id = env.queue.enqueue_training("meter_001", "electricity")
    env.start_worker()

    assert wait_for(finished(env, task_id))["status"] == "SUCCESS"
    assert fake.redelivered == [False]


def test_a_swallowed_time_limit_still_stops_the_task_at_its_next_stage(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    env = task_env(time_limit=timedelta(seconds=1))
    fake.hold, fake.swallow_interrupts = 2.5, True
    task_id = env.queue.enqueue_training("meter_001", "electricity")
    env.start_worker()

    status = wait_for(finished(env, task_id), timeout=8)

    assert status["status"] == "FAILURE" and status["progress"] == 50
    assert status["error"]["error_type"] == "TIMEOUT_ERROR"
    assert "SAVING_MODEL" not in [e["status"] for _, e in env.queue.events(task_id)]


def test_second_delivery_of_a_finished_task_is_harmless(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    env = task_env()
    meter_kwargs = {"meter_id": "meter_001", "meter_type": "electricity", "start": None, "end": None}
    message = env.actors.train_meter.message_with_options(kwargs=meter_kwargs)
    task_id = env.queue.enqueue_training("meter_001", "electricity")
    env.start_worker()
    first = wait_for(finished(env, task_id))

    env.broker.enqueue(message.copy(message_id=task_id))
    env.broker.join("default", timeout=5000)

    assert len(fake.calls) == 1
    assert env.queue.read_status(task_id) == first
