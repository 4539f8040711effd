"""Publishing a chunk of meters: forecasts written, one meter's problem kept to that meter, live accuracy."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.services.live_accuracy import MIN_LIVE_HOURS, score_published
from energy_forecast.services.publication import publish_chunk
from energy_forecast.services.training import train_meter
from energy_forecast.storage.base import SeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series

E = MeterType.ELECTRICITY


@pytest.fixture
def models(tmp_path: Path) -> FileModelStore:
    return FileModelStore(tmp_path / "models")


def _seed(store: SeriesStore, days: int = 40) -> pd.Series:
    readings = hourly_series("2024-01-01", hours=24 * days, seed=3)
    store.upsert_meters([Meter("m1", E, "s1"), Meter("m2", E, "s1"), Meter("ghost", E, "s1")])
    store.write_readings(E, "m1", readings)
    store.write_readings(E, "m2", readings * 2)
    return readings


def test_a_chunk_writes_each_meters_forecast_and_records_a_meter_without_readings(
    series_store: SeriesStore, models: FileModelStore
) -> None:
    readings = _seed(series_store)
    train_meter(series_store, models, meter_id="m1", meter_type=E, fit_threads=1)

    results = publish_chunk(series_store, models, [("m1", E), ("m2", E), ("ghost", E)], days=2)

    by_id = {r.meter_id: r for r in results}
    assert [r.meter_id for r in results] == ["m1", "m2", "ghost"]
    assert by_id["m1"].model_version == "v1" and by_id["m1"].points_written == 48
    assert by_id["m1"].first_hour == (readings.index[-1] + pd.Timedelta(hours=1)).isoformat()
    assert by_id["m1"].holdout_cv_rmse_percent is not None
    assert by_id["m2"].model_version == "substituted" and by_id["m2"].substituted
    assert by_id["ghost"].error is not None and "no electricity readings" in by_id["ghost"].error
    stored = series_store.read_forecast(E, "m1")
    assert len(stored[stored["model_version"] == "v1"]) == 48


def test_live_accuracy_scores_published_points_on_the_readings_that_arrived_since(
    series_store: SeriesStore, models: FileModelStore
) -> None:
    readings = _seed(series_store, days=40)
    series_store.delete_readings(E, "m1", readings.index[24 * 38], readings.index[-1] + pd.Timedelta(hours=1))
    train_meter(series_store, models, meter_id="m1", meter_type=E, fit_threads=1)
    publish_chunk(series_store, models, [("m1", E)], days=2)
    # The two published days are then observed, twice as high as forecast: live accuracy falls.
    series_store.write_readings(E, "m1", readings.iloc[24 * 38 :] * 2.0)

    [result] = publish_chunk(series_store, models, [("m1", E)], days=1)

    assert result.live_hours == 48
    assert result.live_cv_rmse_percent is not None and result.holdout_cv_rmse_percent is not None
    assert result.live_cv_rmse_percent > 3 * result.holdout_cv_rmse_percent


@pytest.mark.parametrize(
    ("hours", "expected_hours", "scored"),
    [
        pytest.param(MIN_LIVE_HOURS - 1, MIN_LIVE_HOURS - 1, False, id="too-few-hours"),
        pytest.param(48, 48, True, id="two-days"),
    ],
)
def test_score_published_needs_a_day_of_overlap(hours: int, expected_hours: int, scored: bool) -> None:
    actual = hourly_series("2024-01-01", hours=hours)
    published = pd.DataFrame(
        {"model_version": "v1", "value": actual.to_numpy() * 1.1, "lower": 0.0, "upper": 0.0},
        index=actual.index,
    )
    other = published.assign(model_version="v2", value=0.0)

    live = score_published(actual, pd.concat([published, other]), "v1")

    assert live.hours == expected_hours
    assert (live.cv_rmse_percent is not None) is scored
    if scored:
        assert live.cv_rmse_percent == pytest.approx(10.0, rel=0.05)
