from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from energy_forecast.errors import NoDataFoundError
from energy_forecast.ml.forecasting import (
    block_widening,
    blocks,
    calibrate_widening,
    forecast,
    forecast_many,
)
from energy_forecast.ml.model import METADATA_ARTIFACT, ForecastModel
from energy_forecast.ml.training import WIDEN_ORIGINS, TrainingResult, multi_day_origins
from tests.ml.conftest import synthetic_meter

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
    assert list(frame.columns) == ["forecast", "lower", "upper", "p10", "p50", "p90"]
    assert np.isfinite(frame.to_numpy()).all()
    assert (frame["lower"] <= frame["forecast"]).all()
    assert (frame["forecast"] <= frame["upper"]).all()
    # the default levels are the band and the median themselves
    np.testing.assert_array_equal(frame["p10"], frame["lower"])
    np.testing.assert_array_equal(frame["p50"], frame["forecast"])
    np.testing.assert_array_equal(frame["p90"], frame["upper"])


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


def test_later_blocks_widen_by_factors_calibrated_in_training(trained: TrainingResult) -> None:
    intervals = trained.model.intervals
    assert intervals is not None

    factors = intervals.widen

    assert len(factors) == 7 and factors[0] == 1.0
    assert list(factors) == sorted(factors)
    assert [block_widening(trained.model, n) for n in (1, 7, 9)] == [1.0, factors[6], factors[6]]


def test_a_bundle_without_calibrated_factors_keeps_the_sqrt_rule(trained: TrainingResult) -> None:
    artifacts = trained.model.to_artifacts()
    document = json.loads(artifacts[METADATA_ARTIFACT])
    del document["intervals"]["widen"]  # as written before the factors existed
    del document["quantiles"]  # (and before quantiles)
    old = ForecastModel.from_artifacts({**artifacts, METADATA_ARTIFACT: json.dumps(document).encode()})

    assert ForecastModel.from_artifacts(artifacts).intervals == trained.model.intervals
    assert old.intervals is not None and old.intervals.widen == ()
    assert [block_widening(old, n) for n in (1, 4, 9)] == [1.0, 2.0, 2.0]


def test_calibrated_factors_make_the_widened_interval_cover_the_multi_day_residuals(
    trained: TrainingResult, meter: tuple[pd.Series, pd.Series]
) -> None:
    consumption, temperature = meter
    origins = multi_day_origins(consumption.index[-24 * 9], consumption.index[-1])
    factors = calibrate_widening(trained.model, consumption, temperature, origins)
    widened = [forecast(trained.model, consumption, temperature, o, 168, widen=factors) for o in origins]
    frame = pd.concat(widened)
    actual = consumption.reindex(frame.index).to_numpy()
    day = np.concatenate([np.repeat(np.arange(1, 8), 24)] * len(origins))

    later = day >= 2
    covered = (frame["lower"].to_numpy() <= actual) & (actual <= frame["upper"].to_numpy())
    assert len(origins) == 3 and factors[0] == 1.0
    # The factors follow the residuals' 80 % quantiles, floored at 1 (here later days are no less
    # certain than the first, so the floor makes them cover more).
    assert covered[later].mean() >= 0.75


def test_multi_day_origins_are_midnights_with_a_week_of_readings_after_them() -> None:
    start, last = pd.Timestamp("2024-01-01T05:00Z"), pd.Timestamp("2024-03-01T23:00Z")

    origins = multi_day_origins(start, last)

    assert len(origins) == WIDEN_ORIGINS and origins[0] == pd.Timestamp("2024-01-02T00:00Z")
    assert origins[-1] == pd.Timestamp("2024-02-24T00:00Z")  # + 7 days ends at the last reading
    assert multi_day_origins(start, start + pd.Timedelta(days=6)) == []


def test_forecasts_at_many_origins_equal_one_forecast_per_origin_bit_for_bit(trained: TrainingResult) -> None:
    # Origins far apart share a wave; close ones (a day apart, overlapping horizons) and one off
    # midnight go to later waves. A gap in the readings and one in the temperatures are inside
    # some horizons and look-backs.
    consumption, temperature = synthetic_meter(24 * 120, seed=1)
    last = consumption.index[-1].floor("D")
    origins = [last - pd.Timedelta(days=d) for d in (80, 7, 40, 8)] + [last - pd.Timedelta(days=20, hours=-5)]
    holed = consumption.drop(consumption.index[-24 * 30 : -24 * 29])
    cooled = temperature.drop(temperature.index[-24 * 12 : -24 * 11 + 7])

    many = forecast_many(trained.model, holed, cooled, origins, 168)

    assert len(many) == len(origins)
    for origin, frame in zip(origins, many, strict=True):
        one = forecast(trained.model, holed, cooled, origin, 168)
        np.testing.assert_array_equal(frame.index.asi8, one.index.asi8)
        np.testing.assert_array_equal(frame.to_numpy(), one.to_numpy())
        assert list(frame.columns) == list(one.columns) and frame.index.name == "timestamp"


def test_forecast_many_refuses_what_forecast_refuses(
    trained: TrainingResult, meter: tuple[pd.Series, pd.Series]
) -> None:
    consumption, temperature = meter
    with pytest.raises(ValueError, match="whole hour"):
        forecast_many(trained.model, consumption, temperature, [consumption.index[-48] + HOUR / 2], 24)
    with pytest.raises(NoDataFoundError):
        forecast_many(trained.model, consumption, temperature, [consumption.index[0] - 400 * HOUR * 24], 24)
