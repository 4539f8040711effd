"""Rolling-origin backtest: how the product would have done, day by day, on the latest weeks.

One model is trained on the readings before the first origin only (the fit never sees a test
day); then at 00:00 UTC on each of the last ``days`` days it forecasts the next ``horizon_hours``
from readings strictly before that origin, with observed temperature standing in for the weather
forecast. The three seasonal-naive baselines are scored on exactly the same hours, so their
CV(RMSE) ratio to the model's is a fair skill measure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import InsufficientDataError
from energy_forecast.features.spec import FeatureSpec
from energy_forecast.ml.baselines import BASELINES, baselines_at
from energy_forecast.ml.forecasting import forecast
from energy_forecast.ml.metrics import evaluate, evaluate_quantiles
from energy_forecast.ml.params import ModelParams
from energy_forecast.ml.quantiles import DEFAULT_LEVELS, frame_levels, quantile_key
from energy_forecast.ml.training import TrainingResult, clean_readings, fit_model

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class BacktestResult:
    """Per-hour records and summary metrics keyed ``model`` and by baseline name."""

    forecasts: pd.DataFrame
    metrics: dict[str, dict[str, float | None]]
    training: TrainingResult
    # Which forecaster answered: "ensemble" (ml/blend.py), "global" (the global member alone, for
    # a meter too new for its own model) or "meter" (its own model alone).
    model_kind: str = "meter"
    blend: dict[str, float | str | int] | None = None

    @property
    def best_baseline(self) -> str | None:
        """The baseline with the lowest CV(RMSE) on the backtest hours."""
        scored = {n: self.metrics[n]["cv_rmse_percent"] for n in BASELINES}
        valid = {n: v for n, v in scored.items() if v is not None}
        return min(valid, key=lambda n: valid[n]) if valid else None

    @property
    def skill_ratio(self) -> float | None:
        """Model CV(RMSE) over the best baseline's; below 1 means the model beats it."""
        best = self.best_baseline
        ours = self.metrics["model"]["cv_rmse_percent"]
        if best is None or ours is None:
            return None
        theirs = self.metrics[best]["cv_rmse_percent"]
        return None if not theirs else ours / theirs


def first_origin(readings: pd.Series, days: int) -> pd.Timestamp:
    """The first of ``days`` daily origins ending at the last reading's day (where training stops)."""
    return clean_readings(readings).index[-1].floor("D") - (days - 1) * DAY


def rolling_origin_backtest(
    consumption: pd.Series,
    temperature: pd.Series | None,
    *,
    meter_id: str,
    meter_type: MeterType,
    timezone: str = "UTC",
    country: str | None = None,
    horizon_hours: int = 24,
    days: int = 56,
    params: ModelParams | None = None,
    spec: FeatureSpec | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
) -> BacktestResult:
    """Train before the first origin, forecast from each daily origin, score model and baselines.

    Metrics use the hours where the actual and every baseline are present; the quantiles scored
    are ``levels`` (pinball loss, coverage, CRPS, rCRPS: ``ml.metrics.evaluate_quantiles``).

    Raises:
        InsufficientDataError: the readings do not span ``days`` days plus a training history;
            and whatever ``fit_model`` raises for the training part.
    """
    readings, origins = backtest_origins(consumption, meter_id, days)
    train = readings[readings.index < origins[0]]
    training = fit_model(
        train,
        temperature,
        meter_id=meter_id,
        meter_type=meter_type,
        timezone=timezone,
        country=country,
        params=params,
        spec=spec,
    )
    training.model.levels = tuple(levels)

    table = origin_table(
        readings,
        origins,
        horizon_hours,
        lambda origin: forecast(training.model, readings, temperature, origin, horizon_hours),
    )
    return BacktestResult(forecasts=table, metrics=score_forecasts(table), training=training)


def backtest_origins(
    consumption: pd.Series, meter_id: str, days: int
) -> tuple[pd.Series, list[pd.Timestamp]]:
    """The cleaned readings and ``days`` daily origins ending at the last reading's day.

    Raises:
        InsufficientDataError: no readings at all.
    """
    readings = clean_readings(consumption)
    if readings.empty:
        raise InsufficientDataError(f"meter {meter_id!r}: no readings to backtest", meter_id=meter_id)
    last_origin = readings.index[-1].floor("D")
    return readings, [last_origin - k * DAY for k in range(days - 1, -1, -1)]


def origin_table(
    readings: pd.Series,
    origins: list[pd.Timestamp],
    horizon_hours: int,
    forecast_at: Callable[[pd.Timestamp], pd.DataFrame],
) -> pd.DataFrame:
    """One row per origin and forecast hour: the forecast, the baselines at that origin, the actual."""
    records: list[pd.DataFrame] = []
    for origin in origins:
        frame = forecast_at(origin).join(baselines_at(readings, origin, horizon_hours))
        frame["actual"] = readings.reindex(frame.index).to_numpy()
        frame.insert(0, "origin", origin)
        records.append(frame)
    return pd.concat(records).reset_index()


def score_forecasts(table: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """Metrics keyed ``model`` and by baseline, on the rows where the actual and every baseline exist.

    A baseline that exists on no row at all (a meter with under a week of readings has no
    ``naive_7d``) is left out of that condition, and its metrics are empty.
    """
    scored = np.isfinite(table["actual"].to_numpy())
    for name in BASELINES:
        present = np.isfinite(table[name].to_numpy())
        if present.any():
            scored &= present
    used = table[scored]
    metrics = {"model": evaluate(used["actual"], used["forecast"], used["lower"], used["upper"])}
    metrics["model"].update(evaluate_quantiles(used["actual"], quantile_table(used)))
    for name in BASELINES:
        metrics[name] = evaluate(used["actual"], used[name])
    return metrics


def quantile_table(frame: pd.DataFrame) -> dict[float, np.ndarray]:
    """The frame's quantile columns by level; a frame with the 80 % band only (``lower``,
    ``forecast``, ``upper``) is read as P10, P50 and P90."""
    levels = frame_levels(frame.columns)
    if not levels:
        return {
            0.1: frame["lower"].to_numpy(),
            0.5: frame["forecast"].to_numpy(),
            0.9: frame["upper"].to_numpy(),
        }
    return {q: frame[quantile_key(q)].to_numpy() for q in levels}
