"""A task that fails with a credential in its exception's text stores no credential."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from energy_forecast.tasks.progress import error_key
from tests.tasks.conftest import TaskEnv
from tests.tasks.fakes import FakeTraining

SECRET = "S3cretPassw0rd"


def test_a_failed_task_keeps_no_url_password_in_its_records(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    fake.fail = lambda: ConnectionRefusedError(f"cannot reach redis://ef:{SECRET}@10.0.0.1:6379/0")
    env = task_env(max_retries=0)
    task_id = env.queue.enqueue_training("m1", "electricity")
    env.start_worker(threads=1)

    deadline = time.monotonic() + 30
    while (status := env.queue.read_status(task_id)) is None or status["status"] != "FAILURE":
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    stored = env.broker.client.get(error_key(task_id)).decode()
    events = json.dumps([e for _, e in env.queue.events(task_id)])

    for text in (json.dumps(status), stored, events):
        assert SECRET not in text
    assert "redis://ef:***@10.0.0.1" in status["message"]
