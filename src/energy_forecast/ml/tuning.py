"""Time-series cross-validation inside a training window, for choosing hyper-parameters honestly.

A fold is a small rolling-origin backtest that ends at a cutoff: the model is trained on readings
before ``cutoff - fold_days`` and forecasts each of the following ``fold_days`` days from its
midnight origin. Folds are stacked backwards from the window end, so every forecast hour lies
inside the window and no reading after ``end`` is ever read. The score is the pooled day-ahead
CV(RMSE) over all fold hours divided by the best seasonal-naive baseline's on the same hours, the
same skill ratio ``bench/accuracy.py`` reports on the days after the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.features.spec import FeatureSpec
from energy_forecast.ml.backtest import rolling_origin_backtest, score_forecasts
from energy_forecast.ml.baselines import BASELINES
from energy_forecast.ml.params import ModelParams
from energy_forecast.ml.training import clean_readings

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class CvScore:
    """Pooled fold metrics of one candidate on one meter."""

    cv_rmse_percent: float | None
    best_baseline_cv_rmse_percent: float | None
    hours: int

    @property
    def ratio(self) -> float | None:
        """Model CV(RMSE) over the best baseline's; below 1 beats the baseline."""
        if self.cv_rmse_percent is None or not self.best_baseline_cv_rmse_percent:
            return None
        return self.cv_rmse_percent / self.best_baseline_cv_rmse_percent


def fold_cutoffs(end: pd.Timestamp, folds: int, fold_days: int) -> list[pd.Timestamp]:
    """Cutoffs (exclusive ends) of ``folds`` back-to-back test windows ending at ``end``, oldest first."""
    if folds < 1 or fold_days < 1:
        raise ValueError("folds and fold_days must be positive")
    end = pd.Timestamp(end).floor("D")
    return [end - k * fold_days * DAY for k in range(folds - 1, -1, -1)]


def cross_validate(
    consumption: pd.Series,
    temperature: pd.Series | None,
    *,
    meter_id: str,
    meter_type: MeterType,
    end: pd.Timestamp,
    params: ModelParams,
    spec: FeatureSpec,
    folds: int = 3,
    fold_days: int = 14,
    horizon_hours: int = 24,
) -> CvScore:
    """Score ``params``/``spec`` by rolling-origin folds that all end before ``end``.

    Raises:
        InsufficientDataError, TrainingError: a fold has too little history to train on.
    """
    readings = clean_readings(consumption)
    readings = readings[readings.index < end]
    tables = []
    for cutoff in fold_cutoffs(end, folds, fold_days):
        result = rolling_origin_backtest(
            readings[readings.index < cutoff],
            temperature,
            meter_id=meter_id,
            meter_type=meter_type,
            timezone=spec.timezone,
            country=spec.country,
            horizon_hours=horizon_hours,
            days=fold_days,
            params=params,
            spec=spec,
        )
        tables.append(result.forecasts)
    table = pd.concat(tables, ignore_index=True)
    metrics = score_forecasts(table)
    baseline_scores = [metrics[name]["cv_rmse_percent"] for name in BASELINES]
    valid = [s for s in baseline_scores if s is not None]
    return CvScore(
        cv_rmse_percent=metrics["model"]["cv_rmse_percent"],
        best_baseline_cv_rmse_percent=min(valid) if valid else None,
        hours=int(metrics["model"]["hours"] or 0),
    )
