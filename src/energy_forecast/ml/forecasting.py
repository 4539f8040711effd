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
block ``k`` widens them by a factor calibrated in training on multi-day hold-out forecasts
(``calibrate_widening``), because later days also carry fed-back error.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from energy_forecast.domain.series import between, to_utc
from energy_forecast.errors import NoDataFoundError
from energy_forecast.features.grid import HOUR, hourly_index, on_grid
from energy_forecast.features.spec import FeatureSpec, build_features
from energy_forecast.ml.model import ForecastModel

MAX_WIDEN = 2.0
MAX_CALIBRATED_WIDEN = 4.0
MIN_WIDEN_RESIDUALS = 48


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


def block_widening(model: ForecastModel, number: int) -> float:
    """How much recursive block ``number`` (1 = the first) widens the day-ahead interval.

    The calibrated per-block factors when the bundle has them, else the older heuristic sqrt(k)
    capped at 2, which the 7-day backtest showed too wide for water (days 2-7 covered ~95 %).
    """
    factors = model.intervals.widen if model.intervals is not None else ()
    if factors:
        return factors[min(number, len(factors)) - 1]
    return min(float(np.sqrt(number)), MAX_WIDEN)


def calibrate_widening(
    model: ForecastModel,
    history: pd.Series,
    temperature: pd.Series | None,
    origins: list[pd.Timestamp],
    days: int = 7,
) -> tuple[float, ...]:
    """Per-block interval factors from recursive ``days``-day forecasts at out-of-sample origins.

    For every forecast hour, the factor its interval would have needed to contain the reading;
    block k's factor is the ``level`` quantile of those (so about ``level`` of its hours are
    covered), smoothed by an increasing (isotonic) fit over the days and never below 1: a later day
    is not more certain. Block 1 stays 1.0, calibrated on the whole hold-out instead. Days with too
    few residuals take the fit's nearest value; with none at all the result is empty.
    """
    level = model.intervals.level if model.intervals is not None else 0.8
    needs: list[list[np.ndarray]] = [[] for _ in range(days)]
    frames = forecast_many(model, history, temperature, origins, 24 * days, widen=(1.0,))
    for origin, frame in zip(origins, frames, strict=True):
        spans = blocks(model.spec, origin, 24 * days)
        numbers = np.concatenate([np.full(stop - start, n) for n, (start, stop) in enumerate(spans, 1)])
        actual = on_grid(history, pd.DatetimeIndex(frame.index))
        value, lower, upper = (frame[c].to_numpy() for c in ("forecast", "lower", "upper"))
        span = np.where(actual >= value, upper - value, value - lower)
        with np.errstate(divide="ignore", invalid="ignore"):
            need = np.abs(actual - value) / span
        valid = np.isfinite(need) & (span > 0)
        for k in range(days):
            needs[k].append(need[valid & (numbers == k + 1)])
    later, wanted, weights = [], [], []
    for k in range(1, days):
        values = np.concatenate(needs[k]) if needs[k] else np.array([])
        if values.size >= MIN_WIDEN_RESIDUALS:
            later.append(k + 1)
            wanted.append(float(np.quantile(values, level)))
            weights.append(float(values.size))
    if not later:
        return ()  # too short a hold-out: block_widening keeps the sqrt rule
    # An increasing fit through the per-day quantiles (pool adjacent violators), not a running
    # maximum: a running maximum keeps every upward sampling error and so over-covers.
    fit = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(later, wanted, sample_weight=weights)
    smooth = fit.predict(np.arange(2, days + 1, dtype="float64"))
    factors = [1.0] + [min(math.ceil(max(float(f), 1.0) * 1e4) / 1e4, MAX_CALIBRATED_WIDEN) for f in smooth]
    return tuple(factors)


def forecast(
    model: ForecastModel,
    history: pd.Series,
    temperature: pd.Series | None,
    origin: pd.Timestamp,
    horizon_hours: int,
    *,
    widen: tuple[float, ...] = (),
) -> pd.DataFrame:
    """Forecast ``[origin, origin + horizon_hours)``; columns ``forecast, lower, upper`` (10 %/90 %).

    Only readings strictly before ``origin`` are read, whatever ``history`` holds. Temperature for
    future hours comes from the caller; missing hours are NaN and the trees route them by default.
    ``widen`` overrides the model's interval factor per block (the last one repeats).

    Raises:
        ValueError: ``origin`` is not on a whole hour or ``horizon_hours`` is not positive.
        NoDataFoundError: no reading in the model's look-back window before ``origin``.
    """
    origin = _checked(origin, horizon_hours)
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
        factor = widen[min(number, len(widen)) - 1] if widen else block_widening(model, number)
        frame = model.predict_interval(features, widen=factor)
        frames.append(frame)
        if stop < horizon_hours:
            known = pd.concat([known, frame["forecast"]])
    result = pd.concat(frames) if len(frames) > 1 else frames[0]
    result.index.name = "timestamp"
    return result


def forecast_many(
    model: ForecastModel,
    history: pd.Series,
    temperature: pd.Series | None,
    origins: list[pd.Timestamp],
    horizon_hours: int,
    *,
    widen: tuple[float, ...] = (),
) -> list[pd.DataFrame]:
    """``forecast`` at each origin, bit-identical to one call each, with one booster call per block
    for a whole wave of origins instead of one per origin.

    Origins at least a look-back plus a horizon apart cannot read each other's forecasts: each
    row reads only its own look-back, and within an origin's horizon only hours before its own
    block (the leakage bounds of ``features.spec``). So a wave of such origins shares one hourly
    series, observed readings with each origin's earlier blocks overwritten by its forecasts, and
    each block is built and predicted for the whole wave at once. Closer origins go to later waves.
    Training's interval calibration runs six 7-day forecasts this way (``calibrate_widening``).

    Raises:
        ValueError, NoDataFoundError: as ``forecast``, for the first origin that has them.
    """
    if horizon_hours < 1:  # before any origin, and with none
        raise ValueError(f"horizon_hours must be >= 1, got {horizon_hours}")
    spec = model.spec
    origins = [_checked(o, horizon_hours) for o in origins]
    for origin in origins:
        if forecast_inputs(spec, history, None, origin, horizon_hours)[0].empty:
            forecast(model, history, temperature, origin, horizon_hours)  # raises its NoDataFoundError
    results: dict[int, pd.DataFrame] = {}
    for wave in _waves(origins, (spec.lookback_hours + horizon_hours) * HOUR):
        chosen = [origins[i] for i in wave]
        grid = hourly_index(chosen[0] - (spec.lookback_hours + 1) * HOUR, chosen[-1] + horizon_hours * HOUR)
        values = on_grid(history.dropna(), grid)
        for origin in chosen:  # nothing at or after an origin is known to its forecast
            start = int((origin - grid[0]) / HOUR)
            values[start : start + horizon_hours] = np.nan
        parts: dict[int, list[pd.DataFrame]] = {i: [] for i in wave}
        spans = {i: blocks(spec, origins[i], horizon_hours) for i in wave}
        for number in range(1, max(len(s) for s in spans.values()) + 1):
            members = [i for i in wave if number <= len(spans[i])]
            index = pd.DatetimeIndex(
                np.concatenate(
                    [
                        hourly_index(
                            origins[i] + spans[i][number - 1][0] * HOUR,
                            origins[i] + (spans[i][number - 1][1] - 1) * HOUR,
                        ).asi8
                        for i in members
                    ]
                ),
                tz="UTC",
            ).as_unit("ns")
            known = pd.Series(values, index=grid)
            features = build_features(known, temperature, spec, index)
            factor = widen[min(number, len(widen)) - 1] if widen else block_widening(model, number)
            frame = model.predict_interval(features, widen=factor)
            offset = 0
            for i in members:
                start, stop = spans[i][number - 1]
                part = frame.iloc[offset : offset + stop - start]
                offset += stop - start
                parts[i].append(part)
                first = int((origins[i] + start * HOUR - grid[0]) / HOUR)
                values[first : first + stop - start] = part["forecast"].to_numpy()
        for i in wave:
            result = pd.concat(parts[i]) if len(parts[i]) > 1 else parts[i][0].copy()
            result.index.name = "timestamp"
            results[i] = result
    return [results[i] for i in range(len(origins))]


def _checked(origin: pd.Timestamp, horizon_hours: int) -> pd.Timestamp:
    """``origin`` in UTC, refused off the whole hour or with a horizon under one hour."""
    origin = to_utc(origin)
    if origin != origin.floor("h"):
        raise ValueError(f"origin {origin} must be on a whole hour")
    if horizon_hours < 1:
        raise ValueError(f"horizon_hours must be >= 1, got {horizon_hours}")
    return origin


def _waves(origins: list[pd.Timestamp], gap: pd.Timedelta) -> list[list[int]]:
    """Indices of ``origins`` in groups whose members are at least ``gap`` apart, in time order."""
    waves: list[list[int]] = []
    for i in sorted(range(len(origins)), key=lambda k: origins[k]):
        for wave in waves:
            if origins[i] - origins[wave[-1]] >= gap:
                wave.append(i)
                break
        else:
            waves.append([i])
    return waves
