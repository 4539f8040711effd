"""Fleet overview: readings joined with active models, status and medians, on real stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.errors import MeterNotFoundError
from energy_forecast.services.fleet import fleet_median, fleet_overview, meter_overview
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series

# Readings run 2024-01-01 .. 2024-01-28 23:00 (four weeks).
READINGS_END = "2024-01-28T23:00:00+00:00"


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[DuckDBSeriesStore, FileModelStore]]:
    store = DuckDBSeriesStore(tmp_path / "store.duckdb")
    store.upsert_meters(
        [
            Meter("b-fresh", MeterType.ELECTRICITY),
            Meter("a-stale", MeterType.ELECTRICITY),
            Meter("pump", MeterType.WATER),
            Meter("silent", MeterType.WATER),
        ]
    )
    readings = hourly_series("2024-01-01", hours=24 * 28)
    for meter_type, meter_id in (
        (MeterType.ELECTRICITY, "b-fresh"),
        (MeterType.ELECTRICITY, "a-stale"),
        (MeterType.WATER, "pump"),
    ):
        store.write_readings(meter_type, meter_id, readings)
    models = FileModelStore(tmp_path / "models")
    yield store, models
    store.close()


def save_model(models: FileModelStore, meter_id: str, window_end: str, metrics: dict[str, Any]) -> None:
    models.save(
        MeterType.ELECTRICITY,
        meter_id,
        {"model.ubj": b"unused"},
        {"metrics": metrics, "training_window": {"start": "2024-01-01T00:00:00+00:00", "end": window_end}},
    )


def test_overview_joins_each_meter_with_its_active_model_and_says_what_is_due(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores
    save_model(models, "b-fresh", READINGS_END, {"cv_rmse_percent": 8.0, "r2": 0.9})
    save_model(models, "a-stale", "2024-01-14T23:00:00+00:00", {"cv_rmse_percent": 12.0, "r2": None})

    rows = fleet_overview(store, models)

    assert [(r.meter_type.value, r.meter_id, r.status) for r in rows] == [
        ("electricity", "a-stale", "stale"),  # readings run 14 days past its training window
        ("electricity", "b-fresh", "ok"),
        ("water", "pump", "untrained"),
        ("water", "silent", "no-data"),
    ]
    fresh = rows[1]
    assert fresh.model is not None and fresh.model.version == 1
    assert fresh.metric("cv_rmse_percent") == 8.0
    assert fresh.last_reading is not None and fresh.last_reading.isoformat() == READINGS_END
    assert fresh.model_saved_at is not None and fresh.model_saved_at.tzinfo is not None
    assert rows[0].metric("r2") is None
    assert rows[2].metric("cv_rmse_percent") is None and rows[2].model_saved_at is None


def test_fleet_median_counts_only_meters_that_recorded_the_metric(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores
    save_model(models, "b-fresh", READINGS_END, {"cv_rmse_percent": 8.0, "r2": 0.9})
    save_model(models, "a-stale", READINGS_END, {"cv_rmse_percent": 12.0, "r2": None})
    rows = fleet_overview(store, models)

    assert fleet_median(rows, "cv_rmse_percent") == 10.0
    assert fleet_median(rows, "r2") == 0.9
    assert fleet_median(rows, "mape_percent") is None


@pytest.mark.parametrize(
    ("meter_type", "meter_id"),
    [
        pytest.param(MeterType.ELECTRICITY, "nosuch", id="unregistered"),
        pytest.param(MeterType.ELECTRICITY, "pump", id="registered-as-another-type"),
    ],
)
def test_meter_overview_refuses_a_meter_that_is_not_registered_as_that_type(
    stores: tuple[DuckDBSeriesStore, FileModelStore], meter_type: MeterType, meter_id: str
) -> None:
    store, models = stores

    with pytest.raises(MeterNotFoundError):
        meter_overview(store, models, meter_type, meter_id)


def test_meter_overview_reads_one_meter_with_its_model(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores
    save_model(models, "b-fresh", READINGS_END, {"cv_rmse_percent": 8.0})

    row = meter_overview(store, models, MeterType.ELECTRICITY, "b-fresh")

    assert row.status == "ok"
    assert row.summary.stats is not None and row.summary.stats.count == 24 * 28
