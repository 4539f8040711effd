"""Synthetic meters for model tests: shaped load, temperature response, noise; built in code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.meters import MeterType
from energy_forecast.domain.series import make_series
from energy_forecast.ml.training import TrainingResult, fit_model


def synthetic_meter(
    hours: int = 24 * 49, *, seed: int = 0, start: str = "2024-01-01"
) -> tuple[pd.Series, pd.Series]:
    """(consumption, temperature) on the same hours; consumption rises with cold."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=hours, freq="h", tz="UTC")
    hour = index.hour.to_numpy()
    temperature = 10 + 6 * np.sin((hour - 9) / 24 * 2 * np.pi) + np.cumsum(rng.normal(0, 0.3, hours)) * 0.2
    daily = 1.0 + 0.4 * np.sin((hour - 6) / 24 * 2 * np.pi)
    weekly = np.where(index.day_of_week.to_numpy() >= 5, 0.7, 1.0)
    load = 100 * daily * weekly + 2.0 * np.maximum(15 - temperature, 0) + rng.normal(0, 3, hours)
    return (
        make_series(index, np.clip(load, 0, None), "consumption"),
        make_series(index, temperature, "temperature_c"),
    )


@pytest.fixture(scope="session")
def meter() -> tuple[pd.Series, pd.Series]:
    return synthetic_meter()


@pytest.fixture(scope="session")
def trained(meter: tuple[pd.Series, pd.Series]) -> TrainingResult:
    consumption, temperature = meter
    return fit_model(
        consumption,
        temperature,
        meter_id="synthetic",
        meter_type=MeterType.ELECTRICITY,
        timezone="Europe/Rome",
        country="IT",
    )
