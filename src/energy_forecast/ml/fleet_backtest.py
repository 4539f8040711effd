"""Rolling-origin backtest with the fleet model: blend for established meters, fleet for new ones.

The same protocol as ``ml.backtest.rolling_origin_backtest`` (model trained before the first
origin, forecasts at each 00:00 UTC origin from readings strictly before it, baselines on the same
hours). The fleet model passed in must itself have been trained on readings before the first
origin (``fit_fleet(until=...)``); the meter is forecast by the fold model that never saw it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import InsufficientDataError
from energy_forecast.ml.backtest import BacktestResult, backtest_origins, origin_table, score_forecasts
from energy_forecast.ml.blend import (
    COLD_PRIOR_HOURS,
    MIN_OWN_DAYS,
    blended_forecast,
    fit_blend,
    fit_cold_blend,
    own_model_days,
)
from energy_forecast.ml.fleet import FleetModel, has_fleet_history
from energy_forecast.ml.forecasting import forecast
from energy_forecast.ml.quantiles import DEFAULT_LEVELS
from energy_forecast.ml.training import TrainingResult, fit_model


def fleet_backtest(
    consumption: pd.Series,
    temperature: pd.Series | None,
    *,
    meter_id: str,
    meter_type: MeterType,
    fleet: FleetModel,
    timezone: str = "UTC",
    country: str | None = None,
    horizon_hours: int = 24,
    days: int = 28,
    blend: bool = True,
    cold_prior_hours: float = COLD_PRIOR_HOURS,
    levels: Sequence[float] = DEFAULT_LEVELS,
) -> BacktestResult:
    """Backtest the forecaster this meter would get: blend, own model (``blend=False``) or fleet.

    Raises:
        InsufficientDataError: less than a week of readings before the first origin.
    """
    readings, origins = backtest_origins(consumption, meter_id, days)
    train = readings[readings.index < origins[0]]
    fleet_model = fleet.model_for(meter_id, train, timezone, country) if not train.empty else None
    weights = None
    if own_model_days(train) >= MIN_OWN_DAYS:
        training = fit_model(
            train, temperature, meter_id=meter_id, meter_type=meter_type, timezone=timezone, country=country
        )
        kind = "meter"
        if blend and training.holdout is not None:
            weights = fit_blend(training.holdout, train, temperature, fleet_model)
            kind = "blend" if weights is not None else "meter"
    elif fleet_model is not None and has_fleet_history(train):
        training = TrainingResult(
            model=fleet_model,
            metrics={},
            data_points=len(train),
            training_window=(train.index[0], train.index[-1]),
        )
        kind = "fleet"
        if blend:
            weights = fit_cold_blend(train, temperature, fleet_model, prior_hours=cold_prior_hours)
    else:
        raise InsufficientDataError(
            f"meter {meter_id!r}: {len(train)} readings before the first origin, a week needed",
            meter_id=meter_id,
        )

    other = fleet_model if kind == "blend" else None
    training.model.levels = tuple(levels)  # the blend carries its own model's levels

    def forecast_at(origin: pd.Timestamp) -> pd.DataFrame:
        if weights is not None:
            return blended_forecast(
                training.model, other, weights, readings, temperature, origin, horizon_hours
            )
        return forecast(training.model, readings, temperature, origin, horizon_hours)

    table = origin_table(readings, origins, horizon_hours, forecast_at)
    return BacktestResult(
        forecasts=table,
        metrics=score_forecasts(table),
        training=training,
        model_kind=kind,
        blend=weights.to_dict() if weights is not None else None,
    )
