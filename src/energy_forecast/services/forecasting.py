"""forecast_meter(): readings and forecasts of one meter over a requested window.

The model forecasts from the hour after the last reading (the origin) to the end of the window,
recursively in day blocks (``ml.forecasting``), up to ``MAX_HORIZON`` ahead. Future temperature
is the stored observation where one exists, then a weather provider's value when a ``weather`` hook
is given (``services.weather.ProviderTemperature``), then the site climatology; each forecast point
says which. A meter with readings but no usable model (none trained,
or data that could not train one) still gets an answer: the mean of the same local hour over the
last 14 days, flagged ``substituted`` with the reason, because "no forecast" helps nobody.

Parsed bundles and memoised forecasts come from ``forecast_cache.ModelCache``; the answer's
points are shaped by ``forecast_points``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Literal

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import DEFAULT_SITE, MeterType, validate_meter_id
from energy_forecast.domain.series import between, empty_series, make_series, to_utc
from energy_forecast.errors import (
    DataQualityError,
    InputDataError,
    NoDataFoundError,
    NotFoundError,
)
from energy_forecast.features.grid import HOUR, hourly_index, on_grid
from energy_forecast.ml.quality import check_training_data
from energy_forecast.ml.quantiles import DEFAULT_LEVELS, quantile_key
from energy_forecast.services.climatology import climatology_at
from energy_forecast.services.fleet_model import fleet_forecast
from energy_forecast.services.forecast_cache import ModelCache, climatology
from energy_forecast.services.forecast_points import (
    DAILY_NOTE,
    Columns,
    ForecastPoint,
    daily_points,
    hourly_points,
)
from energy_forecast.storage.base import ModelStore, SeriesStore

Frequency = Literal["hourly", "daily"]
# (site_id, hours) -> (°C, source label) per hour, NaN where no provider answered; None = no provider.
FutureTemperature = Callable[[str, pd.DatetimeIndex], tuple[np.ndarray, np.ndarray] | None]
MAX_HORIZON = timedelta(days=31)
MAX_SPAN = timedelta(days=366)
FALLBACK_DAYS = 14


@dataclass(frozen=True)
class ForecastResult:
    meter_id: str
    meter_type: MeterType
    frequency: Frequency
    points: list[ForecastPoint]
    model_version: int | None
    substituted: bool
    substitution_reason: str | None
    temperature_source: str
    last_reading: pd.Timestamp
    timezone: str
    notes: list[str] = field(default_factory=list)
    # Which forecaster answered: meter, blend, fleet or fallback (services/fleet_model.py).
    model: str = "meter"


def check_window(start: pd.Timestamp, end: pd.Timestamp) -> None:
    """Raises: InputDataError for an inverted window or one longer than ``MAX_SPAN``."""
    if end < start:
        raise InputDataError(
            f"end_date {end.isoformat()} is before start_date {start.isoformat()}; swap them"
        )
    if end - start > MAX_SPAN:
        raise InputDataError(
            f"window of {(end - start).days} days is too long; ask for at most {MAX_SPAN.days} days"
        )


def same_hour_mean(
    readings: pd.Series, index: pd.DatetimeIndex, timezone: str, levels: tuple[float, ...] = DEFAULT_LEVELS
) -> pd.DataFrame:
    """Fallback forecast: mean (and empirical quantiles: 10 %/90 % and ``levels``) of each local
    hour over the last 14 days."""
    last = readings.index[-1]
    window = readings[readings.index > last - pd.Timedelta(days=FALLBACK_DAYS)]
    grouped = window.groupby(window.index.tz_convert(timezone).hour)
    hours = index.tz_convert(timezone).hour
    overall = float(window.mean())
    columns = {
        "forecast": grouped.mean(),
        "lower": grouped.quantile(0.1),
        "upper": grouped.quantile(0.9),
    }
    columns.update({quantile_key(q): grouped.quantile(q) for q in levels})
    return pd.DataFrame(
        {name: stat.reindex(hours).fillna(overall).to_numpy() for name, stat in columns.items()}, index=index
    )


def _unusable_reason(readings: pd.Series, meter_id: str) -> str:
    try:
        check_training_data(readings, meter_id)
    except DataQualityError as exc:
        return f"no usable model: {exc.message}"
    return f"meter {meter_id!r} has no trained model; train it with POST /trainmodel/"


def _future_temperature(
    temperature: pd.Series,
    index: pd.DatetimeIndex,
    provider: Callable[[pd.DatetimeIndex], tuple[np.ndarray, np.ndarray] | None] | None = None,
) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Observed temperature before and during ``index``, then provider values, climatology the rest."""
    inside = between(temperature, index[0], index[-1] + HOUR) if len(index) else None
    observed = on_grid(inside, index)
    missing = np.isnan(observed)
    values = observed.copy()
    sources = np.where(missing, "climatology", "observed").astype(object)
    provided = provider(index[missing]) if provider is not None and missing.any() else None
    if provided is not None:
        answered = np.isfinite(provided[0])
        fill = np.flatnonzero(missing)[answered]
        values[fill], sources[fill] = provided[0][answered], provided[1][answered]
        missing = np.isnan(values)
    if missing.any() and not temperature.empty:
        values[missing] = climatology_at(climatology(temperature), index[missing])
    past = between(temperature, None, index[0]) if len(index) else temperature
    series = pd.concat([past, make_series(index, values, "temperature")]) if len(index) else past
    return series, values, sources


def _column(frame: pd.DataFrame, key: str, index: pd.DatetimeIndex) -> np.ndarray:
    """A quantile column of a forecast frame (NaN when the forecaster did not give that level)."""
    if key in frame:
        return frame[key].to_numpy(dtype="float64")
    return np.full(len(index), np.nan)


def forecast_meter(
    store: SeriesStore,
    model_store: ModelStore,
    *,
    meter_id: str,
    meter_type: MeterType,
    start: pd.Timestamp,
    end: pd.Timestamp,
    frequency: Frequency = "hourly",
    cache: ModelCache | None = None,
    weather: FutureTemperature | None = None,
) -> ForecastResult:
    """Readings and forecasts of one meter inside ``[start, end]`` (UTC, both inclusive).

    Raises:
        InputDataError: inverted or too long window, or ``end`` beyond ``MAX_HORIZON`` after the
            last reading.
        NotFoundError: the meter has neither readings nor a trained model, or is of another type.
        NoDataFoundError: a trained model but no readings to forecast from.
    """
    validate_meter_id(meter_id)
    meter_type = MeterType(meter_type)
    start, end = to_utc(start), to_utc(end)
    check_window(start, end)
    meter = store.get_meter(meter_id)
    if meter is not None and meter.meter_type != meter_type:
        kind = meter.meter_type.value
        article = "an" if kind[:1] in "aeiou" else "a"
        raise NotFoundError(f"meter {meter_id!r} is {article} {kind} meter, not {meter_type.value}")
    try:
        loaded = (cache or ModelCache()).get(model_store, meter_type, meter_id)
        broken = None
    except ValueError as exc:
        loaded, broken = None, f"the active model cannot be loaded ({exc}); retrain the meter"
    readings = store.read_readings(meter_type, meter_id)
    if readings.empty:
        if loaded is None:
            raise NotFoundError(
                f"meter {meter_id!r} ({meter_type.value}) has no readings and no trained model; "
                "import its readings, then train it"
            )
        raise NoDataFoundError(
            f"meter {meter_id!r} has a model but no readings to forecast from; import its readings",
            meter_id=meter_id,
        )
    bundle = loaded[0].metadata if loaded else {}
    site_id = meter.site_id if meter else str(bundle.get("site_id", DEFAULT_SITE))
    timezone = meter.timezone if meter else str(bundle.get("timezone", "UTC"))

    last = readings.index[-1]
    origin = last + HOUR
    horizon_hours = max(int((end.floor("h") - origin) / HOUR) + 1, 0)
    if horizon_hours * HOUR > MAX_HORIZON:
        raise InputDataError(
            f"end_date {end.isoformat()} is {horizon_hours // 24} days after the last reading "
            f"({last.isoformat()}); forecasts reach at most {MAX_HORIZON.days} days ahead, so end by "
            f"{(last + MAX_HORIZON).isoformat()}"
        )

    stop = end.floor("h") + HOUR  # the window's end is inclusive
    history = between(readings, start, stop)
    nothing = np.full(len(history), np.nan)
    columns = Columns(
        history.index.asi8, history.to_numpy(dtype="float64"), len(history), nothing, nothing, nothing,
        np.full(len(history), None, dtype=object),
    )  # fmt: skip
    reason = None
    temperature_source = "none"
    answered_by = "meter" if loaded is not None else "fallback"
    own_forecast = False  # the meter's own bundle made (or weighted) the answer: its version is named
    levels = (cache or ModelCache()).levels
    quantiles = {quantile_key(q): nothing for q in levels}
    if horizon_hours:
        index = hourly_index(origin, origin + (horizon_hours - 1) * HOUR)
        stored = store.read_temperature(site_id) if site_id else empty_series("temperature")
        provider = partial(weather, site_id) if weather is not None and site_id else None
        temperature, future, sources = _future_temperature(stored, index, provider)
        result = None
        if loaded is not None:
            try:
                memo = cache or ModelCache()
                result = memo.forecast(*loaded, readings, temperature, origin, horizon_hours)
            except NoDataFoundError as exc:
                reason = f"the model cannot forecast from these readings ({exc.message})"
        else:
            reason = broken or _unusable_reason(readings, meter_id)
        if meter is not None:  # blend weights in the bundle, or a cold start: the fleet model
            own_model = loaded[1] if loaded is not None else None
            future_temperature = temperature if not temperature.empty else None
            fleet_args = (own_model, result, readings, future_temperature, origin, horizon_hours)
            own_forecast = result is not None
            result, answered_by = fleet_forecast(model_store, store, meter, *fleet_args, levels=levels)
            if answered_by == "global":
                reason = None
        if result is None:
            result = same_hour_mean(readings, index, timezone, levels)
            answered_by = "fallback"
        inside = slice(int(index.searchsorted(start)), int(index.searchsorted(stop)))

        def joined(past: np.ndarray, ahead: np.ndarray) -> np.ndarray:
            return np.concatenate([past, ahead[inside]])

        columns = Columns(
            joined(columns.stamps, index.asi8),
            joined(columns.value, result["forecast"].to_numpy(dtype="float64")),
            columns.historical,
            joined(columns.temperature, future),
            joined(columns.lower, result["lower"].to_numpy(dtype="float64")),
            joined(columns.upper, result["upper"].to_numpy(dtype="float64")),
            joined(columns.source, sources),
            {key: joined(past, _column(result, key, index)) for key, past in quantiles.items()},
        )
        used = set(sources[inside]) if not np.isnan(future).all() else set()
        temperature_source = used.pop() if len(used) == 1 else ("mixed" if used else "none")

    notes = []
    if reason:
        notes.append(f"substituted: mean of the same local hour over the last {FALLBACK_DAYS} days")
    if frequency == "daily":
        points = daily_points(columns.frame(), timezone) if len(columns.stamps) else []
        notes.append(DAILY_NOTE.format(tz=timezone))
    else:
        points = hourly_points(columns)
    return ForecastResult(
        meter_id=meter_id,
        meter_type=meter_type,
        frequency=frequency,
        points=points,
        model_version=(
            loaded[0].version if loaded and not reason and (answered_by != "global" or own_forecast) else None
        ),
        substituted=reason is not None,
        substitution_reason=reason,
        temperature_source=temperature_source,
        last_reading=last,
        timezone=timezone,
        notes=notes,
        model=answered_by,
    )
