"""Publication chunk tasks on a real Redis: one task per chunk, batch state, the Redis index."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.services.groups import put_group
from energy_forecast.services.training import train_meter
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from energy_forecast.tasks import context
from energy_forecast.tasks.actors import declare_actors
from energy_forecast.tasks.broker import build_broker
from energy_forecast.tasks.publications import PublicationIndex
from energy_forecast.tasks.queue import TaskQueue, batch_state
from energy_forecast.tasks.worker import start_worker, stop_worker
from tests.conftest import hourly_series
from tests.tasks.conftest import FAST
from tests.tasks.fakes import wait_for

E = MeterType.ELECTRICITY


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[DuckDBSeriesStore, FileModelStore]]:
    store = DuckDBSeriesStore(tmp_path / "store.duckdb")
    models = FileModelStore(tmp_path / "models")
    readings = hourly_series("2024-01-01", hours=24 * 40, seed=7)
    store.upsert_meters([Meter(f"m{i}", E, "s1") for i in range(3)])
    for i in range(3):
        store.write_readings(E, f"m{i}", readings + 10 * i)
    train_meter(store, models, meter_id="m0", meter_type=E, fit_threads=1)
    context.configure(lambda: store, lambda: models)
    yield store, models
    context.reset()
    store.close()


@pytest.mark.integration
def test_a_publication_batch_runs_one_task_per_chunk_and_indexes_every_meter(
    redis_url: str, stores: tuple[DuckDBSeriesStore, FileModelStore]
) -> None:
    store, _ = stores
    broker = build_broker(redis_url, **FAST)
    queue = TaskQueue(broker, declare_actors(broker))
    worker = start_worker(broker, threads=2, poll_interval=timedelta(milliseconds=100))
    try:
        batch_id, task_ids = queue.enqueue_publication([(f"m{i}", E) for i in range(3)], days=1, chunk_size=2)
        batch = wait_for(lambda: (b := queue.read_batch(batch_id)) and b["done"] and b, timeout=60)
    finally:
        stop_worker(worker, timeout=timedelta(seconds=5))
        broker.close()

    index = PublicationIndex(queue.client)
    records = index.many([(E, "m0"), (E, "m1"), (E, "m2")])
    assert len(task_ids) == 2
    assert batch_state([t["status"] for t in batch["tasks"]]) == "SUCCESS"
    assert [t["details"]["meters"] for t in batch["tasks"]] == [2, 1]
    assert [r["model_version"] if r else None for r in records] == ["v1", "substituted", "substituted"]
    assert index.freshness(older_than_s=3600).published_meters == 3
    assert len(store.read_forecast(E, "m2")) == 24


@pytest.mark.integration
def test_the_last_chunk_publishes_every_groups_total_when_asked(
    redis_url: str, stores: tuple[DuckDBSeriesStore, FileModelStore]
) -> None:
    store, _ = stores
    put_group(store, "site", E, ["m0", "m1", "m2"])
    broker = build_broker(redis_url, **FAST)
    queue = TaskQueue(broker, declare_actors(broker))
    worker = start_worker(broker, threads=2, poll_interval=timedelta(milliseconds=100))
    try:
        pairs = [(f"m{i}", E) for i in range(3)]
        batch_id, _ = queue.enqueue_publication(pairs, days=1, chunk_size=2, groups=True)
        batch = wait_for(lambda: (b := queue.read_batch(batch_id)) and b["done"] and b, timeout=60)
    finally:
        stop_worker(worker, timeout=timedelta(seconds=5))
        broker.close()

    assert [t["details"]["groups"] for t in batch["tasks"]] == [0, 1]
    assert [t["details"]["failed"] for t in batch["tasks"]] == [0, 0]
    written = store.read_forecast(E, "site")
    assert len(written) == 24 and set(written["model_version"]) == {"group"} and "p90" in written


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        pytest.param(["PENDING", "PENDING"], "PENDING", id="none-started"),
        pytest.param(["SUCCESS", "PENDING"], "RUNNING", id="some-done"),
        pytest.param(["STARTED", "PENDING"], "RUNNING", id="one-running"),
        pytest.param(["SUCCESS", "SUCCESS"], "SUCCESS", id="all-done"),
        pytest.param(["SUCCESS", "FAILURE"], "FAILURE", id="one-failed"),
        pytest.param(["SUCCESS", "EXPIRED"], "FAILURE", id="one-expired"),
    ],
)
def test_batch_state_names_the_whole_batch(states: list[str], expected: str) -> None:
    assert batch_state(states) == expected
