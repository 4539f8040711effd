"""Live accuracy: published forecasts scored against the readings that arrived after them.

A published point is kept per (meter, model version, hour), and a later publication of the same
version overwrites the hours it covers again, so an hour that has since been observed holds the
last forecast made for it before its reading existed. Scoring those points against the readings of
the last ``LIVE_WINDOW`` (counted back from the newest reading, so a historical data set is
scored the same as a live feed) gives the active model's CV(RMSE) in operation, which the scheduler
compares with the hold-out figure recorded at training (drift).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.ml.metrics import cv_rmse_percent
from energy_forecast.storage.base import SeriesStore

LIVE_WINDOW = timedelta(days=7)
# Fewer scored hours than a day says more about the hours picked than about the model.
MIN_LIVE_HOURS = 24


@dataclass(frozen=True, slots=True)
class LiveAccuracy:
    """CV(RMSE) in percent of one model version's published forecasts; None below MIN_LIVE_HOURS."""

    cv_rmse_percent: float | None
    hours: int


def score_published(readings: pd.Series, published: pd.DataFrame, model_version: str) -> LiveAccuracy:
    """The pure part: join one version's published values with readings on the same hours."""
    if published.empty or readings.empty:
        return LiveAccuracy(None, 0)
    mine = published[published["model_version"] == model_version]["value"]
    joined = pd.concat([readings.rename("actual"), mine.rename("forecast")], axis=1, join="inner").dropna()
    hours = len(joined)
    if hours < MIN_LIVE_HOURS:
        return LiveAccuracy(None, hours)
    return LiveAccuracy(cv_rmse_percent(joined["actual"], joined["forecast"]), hours)


def live_accuracy(
    store: SeriesStore,
    meter_type: MeterType,
    meter_id: str,
    model_version: str,
    last_reading: pd.Timestamp,
    window: timedelta = LIVE_WINDOW,
) -> LiveAccuracy:
    """Score ``model_version``'s published forecasts over the ``window`` ending at ``last_reading``."""
    start = last_reading - window + timedelta(hours=1)
    stop = last_reading + timedelta(hours=1)
    published = store.read_forecast(meter_type, meter_id, start, stop)
    if published.empty:
        return LiveAccuracy(None, 0)
    readings = store.read_readings(meter_type, meter_id, start, stop)
    return score_published(readings, published, model_version)
