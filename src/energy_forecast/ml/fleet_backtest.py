"""Rolling-origin backtest of the ensemble: what the meter gets, on the days it did not see.

The same protocol as ``ml.backtest.rolling_origin_backtest`` (model trained before the first
origin, forecasts at each 00:00 UTC origin from readings strictly before it, baselines on the same
hours). The global member passed in must itself have been trained on readings before the first
origin (``fit_fleet(until=...)``); the meter is forecast by the fold model that never saw it.
Without one the ensemble is the meter's own model and its best seasonal naive. A meter with
under ``MIN_OWN_DAYS`` of history before the first origin is forecast by the global member
alone (``model_kind`` ``global``), from whatever history it has: a new meter is never refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import InsufficientDataError
from energy_forecast.ml.backtest import BacktestResult, backtest_origins, origin_table, score_forecasts
from energy_forecast.ml.blend import (
    DEFAULT_PRIOR,
    MIN_OWN_DAYS,
    blended_forecast,
    fit_blend,
    own_model_days,
)
from energy_forecast.ml.cold_blend import COLD_PRIOR_HOURS, fit_cold_blend
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
    fleet: FleetModel | None,
    timezone: str = "UTC",
    country: str | None = None,
    horizon_hours: int = 24,
    days: int = 28,
    blend: bool = True,
    cold_prior_hours: float = COLD_PRIOR_HOURS,
    prior: tuple[float, float, float] | None = DEFAULT_PRIOR,
    levels: Sequence[float] = DEFAULT_LEVELS,
) -> BacktestResult:
    """Backtest the forecaster this meter would get: ensemble, own model (``blend=False``) or global.

    Raises:
        InsufficientDataError: too little history before the first origin for its own model and
            no global member, or under a day of readings.
    """
    readings, origins = backtest_origins(consumption, meter_id, days)
    train = readings[readings.index < origins[0]]
    usable = fleet is not None and not train.empty
    fleet_model = fleet.model_for(meter_id, train, timezone, country) if usable else None
    weights = None
    if own_model_days(train) >= MIN_OWN_DAYS or (fleet_model is None and len(train) >= 24 * 14):
        training = fit_model(
            train, temperature, meter_id=meter_id, meter_type=meter_type, timezone=timezone, country=country
        )
        kind = "meter"
        if blend and training.holdout is not None:
            weights = fit_blend(training.holdout, train, temperature, fleet_model, prior=prior)
            kind = "ensemble" if weights is not None else "meter"
    elif fleet_model is not None and len(train) >= 24:
        training = TrainingResult(
            model=fleet_model,
            metrics={},
            data_points=len(train),
            training_window=(train.index[0], train.index[-1]),
        )
        kind = "global"
        if blend and has_fleet_history(train):
            weights = fit_cold_blend(train, temperature, fleet_model, prior_hours=cold_prior_hours)
    else:
        raise InsufficientDataError(
            f"meter {meter_id!r}: {len(train)} readings before the first origin; a global member "
            "(two meters of the type with a week of readings) or 14 days are needed",
            meter_id=meter_id,
        )

    other = fleet_model if kind == "ensemble" else None
    training.model.levels = tuple(levels)  # the ensemble carries its own model's levels

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
