"""A redelivered training task ends with what its earlier attempt saved: no second fit, no second version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.tasks import RecordingReporter, TaskState
from energy_forecast.services.training import train_meter
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series

ELEC = MeterType.ELECTRICITY


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBSeriesStore]:
    db = DuckDBSeriesStore(tmp_path / "db.duckdb")
    db.upsert_meters([Meter("m1", ELEC, "s1")])
    db.write_readings(ELEC, "m1", hourly_series(hours=24 * 28))
    db.write_temperature("s1", hourly_series(hours=24 * 28, seed=9, base=10, name="temperature"))
    yield db
    db.close()


def test_the_task_id_is_kept_with_the_saved_version(store: DuckDBSeriesStore, tmp_path: Path) -> None:
    models = FileModelStore(tmp_path / "models")

    details = train_meter(
        store, models, meter_id="m1", meter_type=ELEC, reporter=RecordingReporter(task_id="t-1")
    )

    saved = models.get_version(ELEC, "m1")
    assert saved.metadata["task_id"] == "t-1"
    assert details["training_time_seconds"] >= saved.metadata["training_time_seconds"] > 0


def test_a_redelivered_task_returns_its_saved_version_without_fitting_again(
    store: DuckDBSeriesStore, tmp_path: Path
) -> None:
    models = FileModelStore(tmp_path / "models")
    first = train_meter(
        store, models, meter_id="m1", meter_type=ELEC, reporter=RecordingReporter(task_id="t-1")
    )
    again = RecordingReporter(task_id="t-1", redelivered=True)

    second = train_meter(store, models, meter_id="m1", meter_type=ELEC, reporter=again)

    assert [v.version for v in models.list_versions(ELEC, "m1")] == [1]
    assert [state for state, _, _ in again.stages] == [TaskState.CONNECTING]  # no fetch, no fit
    same = {k: v for k, v in first.items() if k not in {"training_completed", "training_time_seconds"}}
    assert {k: second[k] for k in same} == same


def test_a_version_saved_but_never_activated_is_activated_when_its_verdict_accepted_it(
    store: DuckDBSeriesStore, tmp_path: Path
) -> None:
    models = FileModelStore(tmp_path / "models")
    train_meter(store, models, meter_id="m1", meter_type=ELEC, reporter=RecordingReporter(task_id="t-1"))
    _, artifacts = models.load(ELEC, "m1")
    accepted = models.get_version(ELEC, "m1").metadata
    # The attempt of t-2 died after its version was written, before the active pointer moved.
    models.save(ELEC, "m1", artifacts, {**accepted, "task_id": "t-2"}, activate=False)

    details = train_meter(
        store,
        models,
        meter_id="m1",
        meter_type=ELEC,
        reporter=RecordingReporter(task_id="t-2", redelivered=True),
    )

    assert details["model_version"] == 2 and details["status"] == "active"
    assert [(v.version, v.active) for v in models.list_versions(ELEC, "m1")] == [(1, False), (2, True)]


def test_a_redelivered_task_whose_attempt_saved_nothing_trains(
    store: DuckDBSeriesStore, tmp_path: Path
) -> None:
    models = FileModelStore(tmp_path / "models")
    train_meter(store, models, meter_id="m1", meter_type=ELEC, reporter=RecordingReporter(task_id="t-1"))
    again = RecordingReporter(task_id="t-2", redelivered=True)

    details = train_meter(store, models, meter_id="m1", meter_type=ELEC, reporter=again)

    assert details["model_version"] == 2
    assert TaskState.TRAINING_MODEL in [state for state, _, _ in again.stages]
    assert models.get_version(ELEC, "m1", 2).metadata["task_id"] == "t-2"
