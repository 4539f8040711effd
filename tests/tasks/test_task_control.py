"""Cancellation, duplicate-safety, dead workers, batches and queue outages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from energy_forecast.domain.tasks import TaskState
from energy_forecast.errors import QueueUnavailableError
from energy_forecast.tasks.actors import declare_actors
from energy_forecast.tasks.broker import build_broker
from energy_forecast.tasks.queue import TaskQueue
from tests.tasks.conftest import TaskEnv
from tests.tasks.fakes import FakeTraining, wait_for
from tests.tasks.test_task_lifecycle import finished

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_cancelled_queued_task_never_starts(task_env: Callable[..., TaskEnv], fake: FakeTraining) -> None:
    env = task_env()
    task_id = env.queue.enqueue_training("meter_001", "electricity")

    assert env.queue.cancel(task_id) is TaskState.PENDING
    env.start_worker()
    env.broker.join("default", timeout=5000)

    assert fake.calls == []
    status = env.queue.read_status(task_id)
    assert status["status"] == "CANCELLED"
    assert env.queue.list_active() == []


@pytest.mark.integration
def test_cancelled_running_task_stops_at_next_stage(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    env = task_env()
    fake.gate = threading.Event()
    task_id = env.queue.enqueue_training("meter_001", "electricity")
    env.start_worker()
    assert fake.reached_training.wait(5)

    assert env.queue.cancel(task_id) is TaskState.TRAINING_MODEL
    fake.gate.set()
    status = wait_for(finished(env, task_id))

    assert status["status"] == "CANCELLED"
    assert status["progress"] == 50
    assert "SAVING_MODEL" not in [e["status"] for _, e in env.queue.events(task_id)]
    assert env.broker.client.zcard("dramatiq:default.XQ") == 0  # cancelled is not dead-lettered


@pytest.mark.integration
def test_cancel_of_unknown_or_finished_task_changes_nothing(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    env = task_env()
    task_id = env.queue.enqueue_training("meter_001", "electricity")
    env.start_worker()
    wait_for(finished(env, task_id))

    assert env.queue.cancel("no-such-task") is None
    assert env.queue.cancel(task_id) is TaskState.SUCCESS
    assert env.queue.read_status(task_id)["status"] == "SUCCESS"


@pytest.mark.integration
def test_batch_status_aggregates_its_tasks(task_env: Callable[..., TaskEnv], fake: FakeTraining) -> None:
    env = task_env()
    batch_id, task_ids = env.queue.enqueue_batch([("m1", "electricity"), ("m2", "water"), ("m3", "water")])
    assert env.queue.read_batch(batch_id)["states"] == {"PENDING": 3}
    assert len(env.queue.list_active()) == 3

    env.start_worker()
    wait_for(lambda: env.queue.read_batch(batch_id)["done"])

    batch = env.queue.read_batch(batch_id)
    assert batch["states"] == {"SUCCESS": 3}
    assert batch["progress"] == 100
    assert [t["task_id"] for t in batch["tasks"]] == task_ids
    assert env.queue.read_batch("no-such-batch") is None


@pytest.mark.integration
def test_task_of_a_sigkilled_worker_is_redelivered_and_completes(redis_url: str) -> None:
    broker = build_broker(redis_url)
    queue = TaskQueue(broker, declare_actors(broker))
    task_id = queue.enqueue_training("meter_001", "electricity")
    command = [sys.executable, "-m", "tests.tasks.worker_main", redis_url]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    quiet = {"cwd": REPO, "env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    first = subprocess.Popen(command, **quiet)
    second: subprocess.Popen[bytes] | None = None
    try:
        # Generous limits: each worker is a new Python process that imports the package first.
        wait_for(lambda: queue.read_status(task_id)["status"] == "TRAINING_MODEL", timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(5)

        second = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        status = wait_for(
            lambda: (s := queue.read_status(task_id)) and s["status"] == "SUCCESS" and s, timeout=60
        )
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(5)
        broker.close()

    assert status["result"]["details"]["attempt"] == 2


def test_enqueue_with_redis_down_raises_queue_unavailable(fake: FakeTraining) -> None:
    broker = build_broker("redis://127.0.0.1:1/0", set_global=False)
    queue = TaskQueue(broker, declare_actors(broker))
    try:
        with pytest.raises(QueueUnavailableError, match="Redis"):
            queue.enqueue_training("meter_001", "electricity")
        with pytest.raises(QueueUnavailableError):
            queue.read_status("some-task")
    finally:
        broker.close()
