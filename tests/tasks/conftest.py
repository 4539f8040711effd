"""Real-Redis fixtures for the task layer, flushed before and after each test as dramatiq's are."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from energy_forecast.tasks import context
from energy_forecast.tasks.actors import Actors, declare_actors
from energy_forecast.tasks.broker import build_broker
from energy_forecast.tasks.queue import TaskQueue
from energy_forecast.tasks.worker import start_worker, stop_worker
from tests.tasks.fakes import FakeTraining

# Fast limits so retries, expiry and dead-worker recovery happen within seconds.
FAST: dict[str, Any] = {
    "min_backoff": timedelta(milliseconds=100),
    "max_backoff": timedelta(milliseconds=400),
    "heartbeat_timeout": timedelta(seconds=2),
    "maintenance_chance": 1_000_000,
}


def redis_test_url() -> str:
    url = os.environ.get("EF_TEST_REDIS_URL")
    if url:
        return url
    message = "EF_TEST_REDIS_URL is not set: start the servers with `scripts/servers.sh start`"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message + " (required in CI)")
    pytest.skip(message)


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = redis_test_url()
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def fake() -> Iterator[FakeTraining]:
    training = FakeTraining()
    context.configure(lambda: None, lambda: None, train=training)
    yield training
    context.reset()


class TaskEnv:
    """A broker, its actors, the queue façade and (optionally) an in-process worker."""

    def __init__(self, broker: RedisBroker, actors: Actors) -> None:
        self.broker = broker
        self.actors = actors
        self.queue = TaskQueue(broker, actors)
        self.worker: dramatiq.Worker | None = None

    def start_worker(self, threads: int = 2) -> None:
        self.worker = start_worker(self.broker, threads=threads, poll_interval=timedelta(milliseconds=100))

    def close(self) -> None:
        if self.worker is not None:
            stop_worker(self.worker, timeout=timedelta(seconds=5))
        self.broker.close()


@pytest.fixture
def task_env(redis_url: str, fake: FakeTraining) -> Iterator[Callable[..., TaskEnv]]:
    envs: list[TaskEnv] = []

    def make(
        *, time_limit: timedelta = timedelta(seconds=30), max_retries: int = 2, **broker_options: Any
    ) -> TaskEnv:
        broker = build_broker(redis_url, **{**FAST, **broker_options})
        actors = declare_actors(broker, training_time_limit=time_limit, training_max_retries=max_retries)
        env = TaskEnv(broker, actors)
        envs.append(env)
        return env

    yield make
    for env in envs:
        env.close()
