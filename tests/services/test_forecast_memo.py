"""The forecast memo: a repeated request is served from memory, changed inputs recompute."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.services.forecast_cache import ModelCache
from energy_forecast.services.forecasting import forecast_meter
from energy_forecast.services.training import train_meter
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series


def trained_meter(tmp_path: Path, days: int) -> tuple[DuckDBSeriesStore, FileModelStore, pd.Series]:
    """Store, model store and readings of meter b1, trained on ``days`` of hourly readings."""
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    models = FileModelStore(tmp_path / "models")
    store.upsert_meters([Meter("b1", MeterType.ELECTRICITY)])
    readings = hourly_series(hours=24 * days)
    store.write_readings(MeterType.ELECTRICITY, "b1", readings)
    train_meter(store, models, meter_id="b1", meter_type=MeterType.ELECTRICITY, fit_threads=1)
    return store, models, readings


def test_repeated_forecast_is_memoised_and_changed_readings_recompute(tmp_path: Path) -> None:
    store, models, readings = trained_meter(tmp_path, days=28)
    cache = ModelCache()
    start = readings.index[-1] + pd.Timedelta(hours=1)
    window = {
        "meter_id": "b1",
        "meter_type": MeterType.ELECTRICITY,
        "start": start,
        "end": start + pd.Timedelta(hours=47),
    }

    first = forecast_meter(store, models, cache=cache, **window)
    again = forecast_meter(store, models, cache=cache, **window)
    store.write_readings(MeterType.ELECTRICITY, "b1", readings.iloc[-24:] * 2)  # same hours, new values
    changed = forecast_meter(store, models, cache=cache, **window)
    uncached = forecast_meter(store, models, cache=ModelCache(), **window)
    store.close()

    assert again == first
    assert len(cache._forecasts) == 2  # one entry per distinct input, the repeat was a hit
    assert changed != first
    assert changed == uncached


def test_readings_older_than_the_look_back_do_not_change_the_memo_key(tmp_path: Path) -> None:
    store, models, readings = trained_meter(tmp_path, days=56)
    cache = ModelCache()
    start = readings.index[-1] + pd.Timedelta(hours=1)
    window = {"meter_id": "b1", "meter_type": MeterType.ELECTRICITY, "start": start, "end": start}

    first = forecast_meter(store, models, cache=cache, **window)
    store.write_readings(MeterType.ELECTRICITY, "b1", readings.iloc[:24] * 3)  # weeks before the origin
    again = forecast_meter(store, models, cache=cache, **window)
    store.close()

    assert again == first
    assert len(cache._forecasts) == 1
