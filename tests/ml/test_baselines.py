from __future__ import annotations

import numpy as np
import pandas as pd

from energy_forecast.domain.series import make_series
from energy_forecast.ml.baselines import baselines_at


def ramp(hours: int = 24 * 21) -> pd.Series:
    index = pd.date_range("2024-01-01", periods=hours, freq="h", tz="UTC")
    return make_series(index, np.arange(hours, dtype="float64"), "consumption")


def test_day_ahead_baselines_read_yesterday_last_week_and_the_week_mean() -> None:
    history = ramp()
    origin = pd.Timestamp("2024-01-15", tz="UTC")  # position 336
    frame = baselines_at(history, origin, 24)
    assert frame["naive_1d"].iloc[5] == 336 + 5 - 24
    assert frame["naive_7d"].iloc[5] == 336 + 5 - 168
    assert frame["mean_7d"].iloc[5] == np.mean([336 + 5 - 24 * k for k in range(1, 8)])


def test_beyond_a_day_the_baselines_step_back_to_days_before_the_origin() -> None:
    history = ramp()
    origin = pd.Timestamp("2024-01-15", tz="UTC")
    frame = baselines_at(history, origin, 48)
    assert frame["naive_1d"].iloc[30] == 336 + 30 - 48  # two days back: yesterday is not known yet
    assert frame["naive_7d"].iloc[30] == 336 + 30 - 168


def test_baselines_ignore_readings_at_and_after_the_origin() -> None:
    history = ramp()
    origin = pd.Timestamp("2024-01-15 07:00", tz="UTC")
    changed = history.copy()
    changed[changed.index >= origin] = -1.0
    pd.testing.assert_frame_equal(baselines_at(history, origin, 72), baselines_at(changed, origin, 72))


def test_missing_days_are_skipped_in_the_mean_and_nan_elsewhere() -> None:
    history = ramp()
    origin = pd.Timestamp("2024-01-15", tz="UTC")
    gappy = history.drop(origin - pd.Timedelta(hours=24))
    frame = baselines_at(gappy, origin, 1)
    assert np.isnan(frame["naive_1d"].iloc[0])
    assert frame["mean_7d"].iloc[0] == np.mean([336 - 24 * k for k in range(2, 8)])
