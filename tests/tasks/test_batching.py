"""The task path's pipelined writes (``tasks.batching``) after a Redis that forgot its scripts."""

from __future__ import annotations

from collections.abc import Callable

import redis

from tests.tasks.conftest import TaskEnv
from tests.tasks.fakes import FakeTraining, wait_for


def test_a_redis_that_forgot_its_scripts_still_gets_every_write(
    task_env: Callable[..., TaskEnv], fake: FakeTraining, redis_url: str
) -> None:
    env = task_env()
    env.queue.enqueue_training("warm", "electricity")
    redis.Redis.from_url(redis_url).script_flush()  # as a restarted Redis without persistence

    task_id = env.queue.enqueue_training("m1", "electricity")
    env.start_worker(threads=1)
    redis.Redis.from_url(redis_url).script_flush()  # and again before the task finishes
    status = wait_for(lambda: (s := env.queue.read_status(task_id)) and s["status"] == "SUCCESS" and s, 30)

    assert status["result"]["details"]["meter_id"] == "m1"
    assert [e["status"] for _, e in env.queue.events(task_id)][-1] == "SUCCESS"
