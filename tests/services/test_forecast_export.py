"""Forecast write-back: what POST /forecast/ would answer is what lands in the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.errors import InputDataError, NotFoundError
from energy_forecast.services.forecast_export import export_forecast
from energy_forecast.services.forecasting import forecast_meter
from energy_forecast.services.training import train_meter
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series

ELEC = MeterType.ELECTRICITY
LAST = pd.Timestamp("2024-02-29T23:00:00Z")


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[DuckDBSeriesStore, FileModelStore]]:
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    store.upsert_meters([Meter("b1", ELEC, "s1"), Meter("fresh", ELEC, "s1")])
    store.write_readings(ELEC, "b1", hourly_series("2024-01-01", 24 * 60, seed=1))
    store.write_readings(ELEC, "fresh", hourly_series("2024-01-01", 24 * 60, seed=4))
    store.write_temperature("s1", hourly_series("2024-01-01", 24 * 60, seed=2, base=10, name="temperature"))
    yield store, FileModelStore(tmp_path / "models")
    store.close()


def test_a_trained_meter_writes_seven_days_under_its_model_version(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores
    train_meter(store, models, meter_id="b1", meter_type=ELEC)

    exported = export_forecast(store, models, meter_id="b1", meter_type=ELEC, days=7)

    assert exported.model_version == "v1" and not exported.substituted
    assert exported.points_written == 168
    written = store.read_forecast(ELEC, "b1")
    assert written.index[0] == LAST + pd.Timedelta(hours=1)
    assert written.index[-1] == LAST + pd.Timedelta(days=7)
    assert set(written["model_version"]) == {"v1"}
    served = forecast_meter(
        store, models, meter_id="b1", meter_type=ELEC, start=written.index[0], end=written.index[-1]
    )
    np.testing.assert_allclose(written["value"].to_numpy(), [p.value for p in served.points])
    assert (written["lower"] <= written["value"]).all() and (written["value"] <= written["upper"]).all()


def test_an_untrained_meter_writes_the_substituted_forecast_and_a_dry_run_writes_nothing(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
) -> None:
    store, models = stores

    dry = export_forecast(store, models, meter_id="fresh", meter_type=ELEC, days=1, write=False)
    assert dry.points_written == 0 and store.read_forecast(ELEC, "fresh").empty

    exported = export_forecast(store, models, meter_id="fresh", meter_type=ELEC, days=1)
    assert exported.model_version == "substituted" and exported.substituted
    assert len(store.read_forecast(ELEC, "fresh")) == 24


@pytest.mark.parametrize(
    ("meter_id", "days", "error", "fragment"),
    [
        pytest.param("b1", 0, InputDataError, "between 1 and 31", id="zero-days"),
        pytest.param("b1", 32, InputDataError, "between 1 and 31", id="too-many-days"),
        pytest.param("ghost", 7, NotFoundError, "no electricity readings", id="unknown-meter"),
    ],
)
def test_bad_exports_are_refused_with_the_fix(
    stores: tuple[DuckDBSeriesStore, FileModelStore],
    meter_id: str,
    days: int,
    error: type[Exception],
    fragment: str,
) -> None:
    store, models = stores

    with pytest.raises(error, match=fragment):
        export_forecast(store, models, meter_id=meter_id, meter_type=ELEC, days=days)
