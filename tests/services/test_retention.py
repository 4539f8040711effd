"""Retention removes exactly what it should: old forecast points and versions past the keep."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.services.retention import apply_retention
from energy_forecast.storage.base import SeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series

E, W = MeterType.ELECTRICITY, MeterType.WATER


def _points(start: str, hours: int) -> pd.DataFrame:
    index = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    return pd.DataFrame({"value": 1.0}, index=index)


def test_retention_removes_old_forecast_points_and_surplus_versions_and_nothing_else(
    series_store: SeriesStore, tmp_path: Path
) -> None:
    series_store.upsert_meters([Meter("m1", E, "s1"), Meter("w1", W, "s1")])
    series_store.write_readings(E, "m1", hourly_series("2024-03-01", hours=24 * 30))  # last: 2024-03-30 23h
    series_store.write_readings(W, "w1", hourly_series("2024-01-01", hours=24 * 10))  # last: 2024-01-10 23h
    series_store.write_forecast(E, "m1", "v1", _points("2024-03-20", 24 * 5))
    series_store.write_forecast(W, "w1", "v1", _points("2024-01-08", 24 * 5))
    models = FileModelStore(tmp_path / "models")
    for _ in range(8):
        models.save(E, "m1", {"model.ubj": b"x"}, {"metrics": {}})
    models.activate(E, "m1", 2)  # rolled back: the active version is old, and kept
    models.save(W, "w1", {"model.ubj": b"x"}, {"metrics": {}})

    report = apply_retention(
        series_store, models, forecast_retention=pd.Timedelta(days=8).to_pytimedelta(), keep_versions=5
    )

    electricity = series_store.read_forecast(E, "m1")
    water = series_store.read_forecast(W, "w1")
    assert electricity.index[0] == pd.Timestamp("2024-03-22T23:00", tz="UTC")  # last reading - 8 days
    assert len(electricity) == 49  # 03-22 23h .. 03-24 23h of the five days written
    assert len(water) == 24 * 5  # its own cutoff (2024-01-02 23h) is before all its points
    assert [v.version for v in models.list_versions(E, "m1")] == [2, 4, 5, 6, 7, 8]
    assert [v.version for v in models.list_versions(W, "w1")] == [1]
    assert report.versions_removed == 2 and report.meters_pruned == 1

    again = apply_retention(
        series_store, models, forecast_retention=pd.Timedelta(days=8).to_pytimedelta(), keep_versions=5
    )
    assert again.versions_removed == 0 and len(series_store.read_forecast(E, "m1")) == len(electricity)
