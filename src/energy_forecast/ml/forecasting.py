"""forecast(): hourly forecasts with 80 % bounds from a trained model and the history before origin.

Recursive in day blocks, not direct per horizon. Every lag/window feature is at least
``spec.min_lag_hours`` (24 h) old and the anchored features read only what was known at the last
UTC midnight, so the hours from the origin to the next midnight need nothing but observed history
and are predicted in one vectorised call. Each further block (one UTC day) reads the previous
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

from energy_forecast.domain.series import between, to_utc
from energy_forecast.errors import NoDataFoundError
from energy_forecast.features.grid import HOUR, hourly_index
from energy_forecast.features.spec import FeatureSpec, build_features
from energy_forecast.ml.model import ForecastModel

MAX_WIDEN = 2.0


def blocks(spec: FeatureSpec, origin: pd.Timestamp, horizon_hours: int) -> list[tuple[int, int]]:
    """``(start, stop)`` hour offsets of the recursive blocks.

    A block never spans an anchor (so anchored features read only readings before the origin or
    earlier blocks' forecasts) and is never longer than ``spec.min_lag_hours`` (so lags do not
    reach into the block itself).
    """
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < horizon_hours:
        length = spec.min_lag_hours
        if spec.anchor_hours:
            lead = int(spec.anchor_lead(pd.DatetimeIndex([origin + start * HOUR]))[0])
            length = min(length, spec.anchor_hours - lead)
        stop = min(start + length, horizon_hours)
        bounds.append((start, stop))
        start = stop
    return bounds


def forecast_inputs(
    spec: FeatureSpec,
    history: pd.Series,
    temperature: pd.Series | None,
    origin: pd.Timestamp,
    horizon_hours: int,
) -> tuple[pd.Series, pd.Series | None]:
    """The only readings and temperatures a forecast from ``origin`` reads.

    Equal inputs here give a bit-identical forecast, so callers may memoise on them alone.
    """
    reach = spec.lookback_hours + horizon_hours
    past = between(history, origin - reach * HOUR, origin).dropna()
    if temperature is not None:
        window = origin - (spec.lookback_hours + 1) * HOUR
        temperature = between(temperature, window, origin + horizon_hours * HOUR)
    return past.astype("float64"), temperature


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
    past, temperature = forecast_inputs(spec, history, temperature, origin, horizon_hours)
    if past.empty:
        raise NoDataFoundError(
            f"no readings in the {spec.lookback_hours} h before {origin}; cannot forecast "
            "(import recent readings)",
            meter_id=model.metadata.get("meter_id"),
        )
    target_index = hourly_index(origin, origin + (horizon_hours - 1) * HOUR)

    known = past
    frames: list[pd.DataFrame] = []
    for number, (start, stop) in enumerate(blocks(spec, origin, horizon_hours), start=1):
        features = build_features(known, temperature, spec, target_index[start:stop])
        widen = min(float(np.sqrt(number)), MAX_WIDEN)
        frame = model.predict_interval(features, widen=widen)
        frames.append(frame)
        if stop < horizon_hours:
            known = pd.concat([known, frame["forecast"]])
    result = pd.concat(frames) if len(frames) > 1 else frames[0]
    result.index.name = "timestamp"
    return result
