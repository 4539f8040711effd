"""Synthetic hourly series for feature tests, built in code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.series import make_series


def synthetic_load(hours: int = 24 * 42, *, seed: int = 0, start: str = "2024-01-01") -> pd.Series:
    """Daily and weekly shaped positive load with noise."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    daily = 1.0 + 0.4 * np.sin((index.hour.to_numpy() - 6) / 24 * 2 * np.pi)
    weekly = np.where(index.day_of_week.to_numpy() >= 5, 0.7, 1.0)
    return make_series(index, 100 * daily * weekly + rng.normal(0, 3, hours), "consumption")


def synthetic_temperature(series: pd.Series, *, seed: int = 1) -> pd.Series:
    """Temperature on the same hours: a daily cycle plus noise."""
    rng = np.random.default_rng(seed)
    hours = series.index.hour.to_numpy()
    values = 12 + 6 * np.sin((hours - 9) / 24 * 2 * np.pi) + rng.normal(0, 1, len(series))
    return make_series(series.index, values, "temperature_c")


@pytest.fixture
def load() -> pd.Series:
    return synthetic_load()
