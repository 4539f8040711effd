"""Kinds of task in queues of their own: a training queued behind a fleet of evaluations starts
next, and a worker serves only the queues it is given."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from energy_forecast.domain.queues import ALL_QUEUES, TaskKind, parse_queues, queue_for
from energy_forecast.tasks import context
from energy_forecast.tasks.worker import start_worker
from tests.tasks.conftest import TaskEnv
from tests.tasks.fakes import FakeTraining


class SlowEvaluation:
    """A fleet-test row that takes ``hold`` seconds and notes when each began."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.started: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, store: Any, **kwargs: Any) -> dict[str, Any]:
        with self._lock:
            self.started.append(time.monotonic())
        time.sleep(self.hold)
        return {"meter_id": kwargs["meter_id"]}


def wait_for_state(env: TaskEnv, task_id: str, states: set[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (status := env.queue.read_status(task_id)) is None or status["status"] not in states:
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def test_each_kind_has_its_queue_and_training_keeps_the_seeds_default() -> None:
    assert queue_for(TaskKind.TRAINING) == "default"
    assert {queue_for(k) for k in TaskKind} == set(ALL_QUEUES) and len(ALL_QUEUES) == len(TaskKind)
    assert parse_queues("training, publication") == ["default", "publication"]
    assert parse_queues("") is None


def test_a_training_queued_after_a_fleet_test_waits_for_one_task_at_most(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    # The probe queued ten fleet tests (310 fits) and a training still waited after 122 s. Here ten
    # evaluations of a second each are ahead of a training on a one-thread worker.
    evaluation = SlowEvaluation(hold=1.0)
    context.configure(lambda: None, lambda: None, train=fake, evaluate=evaluation)
    env = task_env()
    env.queue.enqueue_evaluation([(f"m{i}", "electricity", 1) for i in range(10)])
    task_id = env.queue.enqueue_training("urgent", "electricity")

    env.start_worker(threads=1)
    wait_for_state(env, task_id, {"SUCCESS"})

    trained_at = fake.calls[0][1]
    assert len([t for t in evaluation.started if t < trained_at]) <= 1


def test_a_worker_serves_only_the_queues_it_is_given(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    evaluation = SlowEvaluation(hold=0.0)
    context.configure(lambda: None, lambda: None, train=fake, evaluate=evaluation)
    env = task_env()
    _, evaluations = env.queue.enqueue_evaluation([("m1", "electricity", 1)])
    task_id = env.queue.enqueue_training("m1", "electricity")

    env.worker = start_worker(
        env.broker, threads=1, queues=parse_queues("training"), poll_interval=timedelta(milliseconds=100)
    )
    wait_for_state(env, task_id, {"SUCCESS"})
    time.sleep(0.5)

    assert evaluation.started == []
    assert env.queue.read_status(evaluations[0])["status"] == "PENDING"
    assert env.broker.client.llen("dramatiq:evaluation") == 1
