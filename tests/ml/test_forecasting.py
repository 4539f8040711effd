from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_forecast.errors import NoDataFoundError
from energy_forecast.ml.forecasting import blocks, forecast
from energy_forecast.ml.training import TrainingResult

HOUR = pd.Timedelta(hours=1)


@pytest.fixture
def origin(meter: tuple[pd.Series, pd.Series]) -> pd.Timestamp:
    return meter[0].index[-24 * 10 + 5]  # 05:00 UTC, ten days before the end


@pytest.mark.parametrize("horizon", [1, 24, 25, 168, 240], ids=lambda h: f"{h}h")
def test_forecast_covers_the_horizon_with_ordered_bounds(
    trained: TrainingResult, meter: tuple[pd.Series, pd.Series], origin: pd.Timestamp, horizon: int
) -> None:
    consumption, temperature = meter
    frame = forecast(trained.model, consumption, temperature, origin, horizon)
    expected = pd.date_range(origin, periods=horizon, freq="h", tz="UTC")
    pd.testing.assert_index_equal(frame.index, expected, check_names=False)
    assert list(frame.columns) == ["forecast", "lower", "upper"]
    assert np.isfinite(frame.to_numpy()).all()
    assert (frame["lower"] <= frame["forecast"]).all()
    assert (frame["forecast"] <= frame["upper"]).all()


def test_readings_at_or_after_origin_cannot_change_any_forecast(
    trained: TrainingResult, meter: tuple[pd.Series, pd.Series], origin: pd.Timestamp
) -> None:
    consumption, temperature = meter
    tampered = consumption.copy()
    future = tampered.index >= origin
    tampered[future] = np.random.default_rng(3).uniform(0, 1e6, future.sum())
    truncated = consumption[consumption.index < origin]
    reference = forecast(trained.model, consumption, temperature, origin, 168)
    pd.testing.assert_frame_equal(
        reference, forecast(trained.model, tampered, temperature, origin, 168), check_exact=True
    )
    pd.testing.assert_frame_equal(
        reference, forecast(trained.model, truncated, temperature, origin, 168), check_exact=True
    )


def test_later_days_are_recursive_on_earlier_day_forecasts(
    trained: TrainingResult, meter: tuple[pd.Series, pd.Series], origin: pd.Timestamp
) -> None:
    # The origin is 05:00 UTC, so block one is 05:00-23:00 and block two the next UTC day. Block two
    # equals a day-ahead forecast from that midnight whose "history" after the origin is the model's
    # own block-one forecast: the documented recursion, checked bit for bit.
    consumption, temperature = meter
    first = 24 - origin.hour
    two_days = forecast(trained.model, consumption, temperature, origin, first + 24)
    history = pd.concat([consumption[consumption.index < origin], two_days["forecast"].iloc[:first]])
    day_two = forecast(trained.model, history, temperature, origin + first * HOUR, 24)
    np.testing.assert_array_equal(
        two_days["forecast"].iloc[first:].to_numpy(), day_two["forecast"].to_numpy()
    )


def test_blocks_stop_at_utc_midnight_and_at_the_minimum_lag(trained: TrainingResult) -> None:
    origin = pd.Timestamp("2024-03-01 05:00", tz="UTC")
    assert blocks(trained.model.spec, origin, 60) == [(0, 19), (19, 43), (43, 60)]
    assert blocks(trained.model.spec, origin.floor("D"), 48) == [(0, 24), (24, 48)]


def test_missing_future_temperature_is_tolerated(
    trained: TrainingResult, meter: tuple[pd.Series, pd.Series], origin: pd.Timestamp
) -> None:
    consumption, temperature = meter
    frame = forecast(trained.model, consumption, temperature[temperature.index < origin], origin, 48)
    assert np.isfinite(frame["forecast"]).all()
    frame = forecast(trained.model, consumption, None, origin, 24)
    assert np.isfinite(frame["forecast"]).all()


def test_origin_must_be_on_the_hour_and_have_history(
    trained: TrainingResult, meter: tuple[pd.Series, pd.Series]
) -> None:
    consumption, temperature = meter
    with pytest.raises(ValueError, match="whole hour"):
        forecast(
            trained.model, consumption, temperature, consumption.index[-48] + pd.Timedelta(minutes=30), 24
        )
    with pytest.raises(NoDataFoundError):
        forecast(trained.model, consumption, temperature, consumption.index[0], 24)
