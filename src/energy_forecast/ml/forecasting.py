"""forecast(): hourly forecasts with 80 % bounds from a trained model and the history before origin.

Recursive in day blocks, not direct per horizon. Every consumption feature is at least
``spec.min_lag_hours`` (24 h) old, so the first 24 forecast hours need nothing but observed
history and are predicted in one vectorised call. Each further block of 24 h reads the previous
blocks' forecasts where it needs "observed" readings. Why not direct models per horizon: a
separate model for days 2-7 would double training time (the budget is ~2 s) and double the
artifacts for hours that are rarely scored; the day-block recursion keeps one model, costs one
booster call per day (a 168 h forecast is 7 calls) and feeds back forecasts only through 24 h+
lags, where its smooth values do little harm. Intervals are calibrated on day-ahead residuals;
block ``k`` widens them by ``sqrt(k)`` (capped at 2) because later days also carry fed-back error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_forecast.domain.series import to_utc
from energy_forecast.errors import NoDataFoundError
from energy_forecast.features.grid import HOUR, hourly_index
from energy_forecast.features.spec import build_features
from energy_forecast.ml.model import ForecastModel

MAX_WIDEN = 2.0


def forecast(
    model: ForecastModel,
    history: pd.Series,
    temperature: pd.Series | None,
    origin: pd.Timestamp,
    horizon_hours: int,
) -> pd.DataFrame:
    """Forecast ``[origin, origin + horizon_hours)``; columns ``forecast, lower, upper`` (10 %/90 %).

    Only readings strictly before ``origin`` are read, whatever ``history`` holds. Temperature for
    future hours comes from the caller; missing hours are NaN and the trees route them by default.

    Raises:
        ValueError: ``origin`` is not on a whole hour or ``horizon_hours`` is not positive.
        NoDataFoundError: no reading in the model's look-back window before ``origin``.
    """
    origin = to_utc(origin)
    if origin != origin.floor("h"):
        raise ValueError(f"origin {origin} must be on a whole hour")
    if horizon_hours < 1:
        raise ValueError(f"horizon_hours must be >= 1, got {horizon_hours}")
    spec = model.spec
    block = spec.min_lag_hours
    reach = spec.lookback_hours + horizon_hours
    past = history[(history.index < origin) & (history.index >= origin - reach * HOUR)].dropna()
    if past.empty:
        raise NoDataFoundError(
            f"no readings in the {spec.lookback_hours} h before {origin}; cannot forecast",
            meter_id=model.metadata.get("meter_id"),
        )
    past = past.astype("float64")
    target_index = hourly_index(origin, origin + (horizon_hours - 1) * HOUR)

    known = past
    frames: list[pd.DataFrame] = []
    for number, start in enumerate(range(0, horizon_hours, block), start=1):
        index = target_index[start : start + block]
        features = build_features(known, temperature, spec, index)
        widen = min(float(np.sqrt(number)), MAX_WIDEN)
        frame = model.predict_interval(features, widen=widen)
        frames.append(frame)
        if start + block < horizon_hours:
            known = pd.concat([known, frame["forecast"]])
    result = pd.concat(frames) if len(frames) > 1 else frames[0]
    result.index.name = "timestamp"
    return result
