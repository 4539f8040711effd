"""Retention in the stores: forecast points before a cutoff, and model versions that are not active."""

from __future__ import annotations

import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.storage.base import SeriesStore

E, W = MeterType.ELECTRICITY, MeterType.WATER


def _forecast(start: str, hours: int) -> pd.DataFrame:
    index = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    return pd.DataFrame({"value": 1.0, "lower": 0.5, "upper": 1.5}, index=index)


def test_delete_forecast_before_removes_exactly_the_older_points_of_that_type(
    series_store: SeriesStore,
) -> None:
    series_store.write_forecast(E, "m1", "v1", _forecast("2024-01-01", 48))
    series_store.write_forecast(E, "m2", "v2", _forecast("2024-01-01", 48))
    series_store.write_forecast(W, "w1", "v1", _forecast("2024-01-01", 48))

    series_store.delete_forecast_before(E, pd.Timestamp("2024-01-02", tz="UTC"))

    for meter_id in ("m1", "m2"):
        left = series_store.read_forecast(E, meter_id)
        assert len(left) == 24 and left.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert len(series_store.read_forecast(W, "w1")) == 48  # another type is untouched
