"""The task path's pipelined writes (``tasks.batching``) after a Redis that forgot its scripts."""

from __future__ import annotations

import time
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


def test_a_server_missing_one_script_gets_each_write_once(
    task_env: Callable[..., TaskEnv], fake: FakeTraining, redis_url: str
) -> None:
    env = task_env()
    env.queue.enqueue_training("warm", "electricity")
    client = redis.Redis.from_url(redis_url)
    client.script_flush()
    client.script_load(
        env.broker.scripts["dispatch"].script
    )  # the queue entry's script runs, the record's not

    fake.hold = 0.5  # two deliveries, were there two, would run side by side
    task_id = env.queue.enqueue_training("m1", "electricity")
    env.start_worker(threads=2)
    wait_for(lambda: (s := env.queue.read_status(task_id)) and s["status"] == "SUCCESS", 30)

    started = [e for _, e in env.queue.events(task_id) if e["status"] == "STARTED"]
    assert len(started) == 1  # delivered once: the queue entry was not sent again
    time.sleep(1)  # a second delivery, were there one, would start within the poll interval
    assert [meter for meter, _ in fake.calls].count("m1") == 1
