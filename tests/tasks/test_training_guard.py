"""One training per meter at a time, whoever asks: the guard in Redis."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from energy_forecast.domain.tasks import TaskState
from tests.tasks.conftest import TaskEnv
from tests.tasks.fakes import FakeTraining, wait_for

pytestmark = pytest.mark.integration


def _queued(env: TaskEnv) -> int:
    return int(env.broker.client.hlen(f"{env.broker.namespace}:default.msgs"))


def test_a_meter_in_flight_gets_its_running_task_back_instead_of_a_second(
    task_env: Callable[..., TaskEnv],
) -> None:
    env = task_env()

    first, created = env.queue.enqueue_training_once("m1", "electricity")
    again, created_again = env.queue.enqueue_training_once("m1", "electricity")
    other, created_other = env.queue.enqueue_training_once("m1", "water")  # another meter (type) entirely

    assert created and not created_again and again == first
    assert created_other and other != first
    assert _queued(env) == 2


def test_concurrent_requests_for_one_meter_enqueue_exactly_one_task(task_env: Callable[..., TaskEnv]) -> None:
    env = task_env()
    results: list[tuple[str, bool]] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        results.append(env.queue.enqueue_training_once("m1", "electricity"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(created for _, created in results) == 1
    assert len({task_id for task_id, _ in results}) == 1
    assert _queued(env) == 1


def test_the_guard_frees_the_meter_once_its_task_ends(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    env = task_env()
    env.start_worker()
    first = env.queue.enqueue_training("m1", "electricity")
    wait_for(lambda: (s := env.queue.read_status(first)) and s["status"] == TaskState.SUCCESS.value)

    second, created = env.queue.enqueue_training_once("m1", "electricity")

    assert created and second != first
