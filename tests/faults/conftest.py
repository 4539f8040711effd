"""Fault-test fixtures: real training behind a real Redis queue and worker, nothing faked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.services.training import train_meter
from energy_forecast.storage.base import ModelStore
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from energy_forecast.tasks import context
from energy_forecast.tasks.actors import declare_actors
from energy_forecast.tasks.broker import build_broker
from energy_forecast.tasks.queue import TaskQueue
from energy_forecast.tasks.worker import start_worker, stop_worker
from tests.conftest import hourly_series
from tests.tasks.conftest import FAST, redis_test_url
from tests.tasks.fakes import wait_for

TERMINAL = {"SUCCESS", "FAILURE", "CANCELLED"}


def seed_meters(store: DuckDBSeriesStore, meter_ids: list[str], hours: int = 24 * 28) -> None:
    """Small synthetic electricity meters (one fit takes well under a second) and their site's temperature."""
    store.upsert_meters([Meter(m, MeterType.ELECTRICITY, "s1") for m in meter_ids])
    for i, meter_id in enumerate(meter_ids):
        store.write_readings(MeterType.ELECTRICITY, meter_id, hourly_series(hours=hours, seed=i))
    store.write_temperature("s1", hourly_series(hours=hours, seed=99, base=10, name="temperature"))


def wait_terminal(queue: TaskQueue, task_id: str, timeout: float = 60.0) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        status = queue.read_status(task_id)
        return status if status and status["status"] in TERMINAL else None

    result: dict[str, Any] = wait_for(check, timeout=timeout, interval=0.1)
    return result


@dataclass
class TrainingEnv:
    """A real DuckDB store, a real model directory, a Redis broker and one in-process worker."""

    store: DuckDBSeriesStore
    models: ModelStore
    broker: RedisBroker
    queue: TaskQueue
    worker: dramatiq.Worker


@pytest.fixture
def flushed_redis_url() -> Iterator[str]:
    url = redis_test_url()
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def training_env(flushed_redis_url: str, tmp_path: Path) -> Iterator[Callable[..., TrainingEnv]]:
    made: list[TrainingEnv] = []

    def make(
        *,
        time_limit: timedelta = timedelta(minutes=2),
        max_retries: int = 0,
        models: ModelStore | None = None,
    ) -> TrainingEnv:
        store = DuckDBSeriesStore(tmp_path / "energy.duckdb")
        models_ = models if models is not None else FileModelStore(tmp_path / "models")
        broker = build_broker(flushed_redis_url, time_limit=time_limit, max_retries=max_retries, **FAST)
        actors = declare_actors(broker, training_time_limit=time_limit, training_max_retries=max_retries)
        context.configure(lambda: store, lambda: models_, train=partial(train_meter, fit_threads=1))
        worker = start_worker(broker, threads=1, poll_interval=timedelta(milliseconds=100))
        env = TrainingEnv(store, models_, broker, TaskQueue(broker, actors), worker)
        made.append(env)
        return env

    yield make
    for env in made:
        stop_worker(env.worker, timeout=timedelta(seconds=10))
        env.broker.close()
        context.reset()
        env.store.close()
