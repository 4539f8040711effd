"""forecast_meter(): readings and forecasts of one meter over a requested window.

The model forecasts from the hour after the last reading (the origin) to the end of the window,
recursively in day blocks (``ml.forecasting``), up to ``MAX_HORIZON`` ahead. Future temperature
is the stored observation where one exists, then a weather provider's value when a ``weather`` hook
is given (``services.weather.ProviderTemperature``), then the site climatology; each forecast point
says which. A meter with readings but no usable model (none trained,
or data that could not train one) still gets an answer: the mean of the same local hour over the
last 14 days, flagged ``substituted`` with the reason, because "no forecast" helps nobody.

Loaded bundles are kept in a ``ModelCache`` keyed by version, so repeated calls skip parsing.
It also remembers recent forecasts under a key made of the model version, origin, horizon and a
digest of the exact readings and temperatures they were computed from: a repeated request (a
dashboard polling) skips the ~70 ms of feature building and prediction, and any change of the
inputs changes the key, so a memoised forecast is never stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import DEFAULT_SITE, MeterType, validate_meter_id
from energy_forecast.domain.series import between, empty_series, make_series, to_utc
from energy_forecast.errors import (
    DataQualityError,
    InputDataError,
    ModelNotFoundError,
    NoDataFoundError,
    NotFoundError,
)
from energy_forecast.features.grid import HOUR, hourly_index, on_grid
from energy_forecast.ml.forecasting import forecast, forecast_inputs
from energy_forecast.ml.model import ForecastModel
from energy_forecast.ml.quality import check_training_data
from energy_forecast.services.climatology import climatology_at, climatology_table
from energy_forecast.services.fleet_model import fleet_forecast, fleet_token
from energy_forecast.services.memo import Memo
from energy_forecast.storage.base import ModelStore, ModelVersion, SeriesStore

if TYPE_CHECKING:
    from energy_forecast.services.weather import ProviderTemperature

Frequency = Literal["hourly", "daily"]
# (site_id, hours) -> (°C, source label) per hour, NaN where no provider answered; None = no provider.
FutureTemperature = Callable[[str, pd.DatetimeIndex], tuple[np.ndarray, np.ndarray] | None]
MAX_HORIZON = timedelta(days=31)
MAX_SPAN = timedelta(days=366)
FALLBACK_DAYS = 14
DAILY_NOTE = (
    "daily values are sums of hourly consumption per local day ({tz}) over the hours inside the "
    "window ('hours' says how many); a day holding readings and forecasts is a forecast point adding "
    "both; bounds are sums of hourly 10 %/90 % bounds, wider than an 80 % interval of the daily total"
)


class ForecastPoint(NamedTuple):
    """One output point; ``label`` is an ISO UTC hour (hourly) or a local ISO date (daily).

    A named tuple, not a frozen dataclass: a 7-day answer builds 168 of them per request, and a
    frozen dataclass's ``__init__`` cost ten times as much.
    """

    label: str
    value: float
    kind: Literal["historical", "forecast"]
    temperature: float | None = None
    lower: float | None = None
    upper: float | None = None
    temperature_source: str | None = None
    hours: int | None = None


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


class ModelCache:
    """Parsed bundles, forecasts and whole answers of this process, each keyed by what it depends on.

    ``answers`` holds serialised API answers under ``answer_version`` tokens; the API layer fills it.
    """

    def __init__(self, max_entries: int = 256, max_forecasts: int = 1024) -> None:
        self._models: Memo[ForecastModel] = Memo(max_entries)
        self._forecasts: Memo[pd.DataFrame] = Memo(max_forecasts)
        self.answers: Memo[bytes] = Memo(max_forecasts)

    def forecast(
        self,
        info: ModelVersion,
        model: ForecastModel,
        readings: pd.Series,
        temperature: pd.Series,
        origin: pd.Timestamp,
        horizon_hours: int,
    ) -> pd.DataFrame:
        """``ml.forecasting.forecast``, memoised by the content of the inputs it reads."""
        readings, temperature = forecast_inputs(model.spec, readings, temperature, origin, horizon_hours)
        key = (*_model_key(info), origin, horizon_hours, _digest(readings, temperature))
        cached = self._forecasts.get(key)
        if cached is not None:
            return cached.copy()
        result = forecast(model, readings, temperature, origin, horizon_hours)
        self._forecasts.put(key, result.copy())
        return result

    def get(
        self, model_store: ModelStore, meter_type: MeterType, meter_id: str
    ) -> tuple[ModelVersion, ForecastModel] | None:
        """The active version and its model, or None when the meter has no trained model.

        Raises:
            ValueError: the bundle exists but cannot be parsed (incomplete or newer format).
        """
        try:
            info = model_store.get_version(meter_type, meter_id)
        except ModelNotFoundError:
            return None
        model = self._models.get(_model_key(info))
        if model is None:
            info, artifacts = model_store.load(meter_type, meter_id, info.version)
            model = ForecastModel.from_artifacts(artifacts)
            self._models.put(_model_key(info), model)
        return info, model


def _model_key(info: ModelVersion) -> tuple[str, str, int, str]:
    return (info.meter_type.value, info.meter_id, info.version, str(info.created_at))


def answer_version(
    store: SeriesStore,
    model_store: ModelStore,
    meter_type: MeterType,
    meter_id: str,
    weather: ProviderTemperature | None,
) -> Hashable | None:
    """A token that stays equal exactly while ``forecast_meter`` would answer the same for this meter.

    Made of the store's data version (readings, site temperatures, registries) and the active
    model's version; None when it cannot be known cheaply: a store that other processes write to,
    a meter outside the registry, or a weather provider that may supply the future temperatures
    (its values move with every provider update). Take it before computing an answer and store the
    answer only if it is unchanged afterwards, so a write racing the computation is never cached.
    """
    meter = store.get_meter(meter_id)
    if meter is None or meter.meter_type != MeterType(meter_type):
        return None
    if weather is not None and weather.applies(meter.site_id):
        return None
    data = store.data_version(meter_type, meter_id, meter.site_id)
    if data is None:
        return None
    try:
        model = _model_key(model_store.get_version(meter_type, meter_id))
    except ModelNotFoundError:
        model = None
    return data, model, fleet_token(model_store, meter_type)


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


def same_hour_mean(readings: pd.Series, index: pd.DatetimeIndex, timezone: str) -> pd.DataFrame:
    """Fallback forecast: mean (and 10 %/90 % quantiles) of each local hour over the last 14 days."""
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
    return pd.DataFrame(
        {name: stat.reindex(hours).fillna(overall).to_numpy() for name, stat in columns.items()}, index=index
    )


def _unusable_reason(readings: pd.Series, meter_id: str) -> str:
    try:
        check_training_data(readings, meter_id)
    except DataQualityError as exc:
        return f"no usable model: {exc.message}"
    return f"meter {meter_id!r} has no trained model; train it with POST /trainmodel/"


_CLIMATOLOGIES: Memo[np.ndarray] = Memo(64)


def _digest(*series: pd.Series | None) -> str:
    """A content digest of series (index and values): equal digests, equal inputs.

    SHA-256 over the arrays' memory, no copies: ~0.3 ms for three years of hours.
    """
    digest = hashlib.sha256()
    for one in series:
        if one is not None:
            digest.update(memoryview(np.ascontiguousarray(one.index.asi8)))
            digest.update(memoryview(np.ascontiguousarray(one.to_numpy(dtype="float64"))))
        digest.update(b"|")
    return digest.hexdigest()


def _climatology(temperature: pd.Series) -> np.ndarray:
    """``climatology_table`` memoised by the content of the history it is built from."""
    key = _digest(temperature)
    table = _CLIMATOLOGIES.get(key)
    if table is None:
        table = climatology_table(temperature)
        _CLIMATOLOGIES.put(key, table)
    return table


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
        values[missing] = climatology_at(_climatology(temperature), index[missing])
    past = between(temperature, None, index[0]) if len(index) else temperature
    series = pd.concat([past, make_series(index, values, "temperature")]) if len(index) else past
    return series, values, sources


@dataclass(frozen=True)
class _Columns:
    """The answer's hours as plain arrays: historical hours first, then forecast hours.

    Arrays, not a DataFrame: on a 7-day answer, pandas' per-operation overhead (concat, rename,
    reindex of 168 rows) cost more than the forecast it carried.
    """

    stamps: np.ndarray  # int64 ns since the epoch, UTC
    value: np.ndarray
    historical: int  # how many leading hours are readings
    temperature: np.ndarray  # NaN on historical hours and where unknown
    lower: np.ndarray
    upper: np.ndarray
    source: np.ndarray  # object: the temperature's source label, None on historical hours

    def frame(self) -> pd.DataFrame:
        kind = np.where(np.arange(len(self.stamps)) < self.historical, "historical", "forecast")
        columns = {"value": self.value, "kind": kind, "temperature": self.temperature}
        columns.update(lower=self.lower, upper=self.upper, source=self.source)
        return pd.DataFrame(columns, index=pd.DatetimeIndex(self.stamps, tz="UTC"))


def _hourly_points(columns: _Columns) -> list[ForecastPoint]:
    labels = [f"{label}Z" for label in np.datetime_as_string(columns.stamps.astype("datetime64[ns]"), "s")]
    historical = columns.historical
    points = [
        ForecastPoint(label, value, "historical")
        for label, value in zip(labels[:historical], columns.value[:historical].tolist(), strict=True)
    ]

    def plain(values: np.ndarray) -> list[float | None]:
        return [None if v != v else v for v in values.tolist()]  # NaN -> None

    rows = zip(
        labels[historical:],
        columns.value[historical:].tolist(),
        plain(columns.temperature[historical:]),
        plain(columns.lower[historical:]),
        plain(columns.upper[historical:]),
        columns.source[historical:].tolist(),
        strict=True,
    )
    points.extend(
        ForecastPoint(label, value, "forecast", temp, low, up, src)
        for label, value, temp, low, up, src in rows
    )
    return points


def _daily_points(frame: pd.DataFrame, timezone: str) -> list[ForecastPoint]:
    points = []
    for day, rows in frame.groupby(frame.index.tz_convert(timezone).date):
        is_forecast = rows["kind"] == "forecast"
        if not is_forecast.any():
            points.append(
                ForecastPoint(day.isoformat(), float(rows["value"].sum()), "historical", hours=len(rows))
            )
            continue
        observed = float(rows.loc[~is_forecast, "value"].sum())
        temps = rows.loc[is_forecast, "temperature"].dropna()
        sources = set(rows.loc[is_forecast, "source"])
        points.append(
            ForecastPoint(
                day.isoformat(),
                float(rows["value"].sum()),
                "forecast",
                float(temps.mean()) if len(temps) else None,
                observed + float(rows.loc[is_forecast, "lower"].sum()),
                observed + float(rows.loc[is_forecast, "upper"].sum()),
                sources.pop() if len(sources) == 1 else "mixed",
                len(rows),
            )
        )
    return points


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
        raise NotFoundError(f"meter {meter_id!r} is a {meter.meter_type.value} meter, not {meter_type.value}")
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
    columns = _Columns(
        history.index.asi8, history.to_numpy(dtype="float64"), len(history), nothing, nothing, nothing,
        np.full(len(history), None, dtype=object),
    )  # fmt: skip
    reason = None
    temperature_source = "none"
    answered_by = "meter" if loaded is not None else "fallback"
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
        if meter is not None:  # blend weights in the bundle, or a cold start: the fleet model (issue 15)
            own_model = loaded[1] if loaded is not None else None
            future_temperature = temperature if not temperature.empty else None
            fleet_args = (own_model, result, readings, future_temperature, origin, horizon_hours)
            result, answered_by = fleet_forecast(model_store, store, meter, *fleet_args)
            if answered_by == "fleet":
                reason = None
        if result is None:
            result = same_hour_mean(readings, index, timezone)
            answered_by = "fallback"
        inside = slice(int(index.searchsorted(start)), int(index.searchsorted(stop)))

        def joined(past: np.ndarray, ahead: np.ndarray) -> np.ndarray:
            return np.concatenate([past, ahead[inside]])

        columns = _Columns(
            joined(columns.stamps, index.asi8),
            joined(columns.value, result["forecast"].to_numpy(dtype="float64")),
            columns.historical,
            joined(columns.temperature, future),
            joined(columns.lower, result["lower"].to_numpy(dtype="float64")),
            joined(columns.upper, result["upper"].to_numpy(dtype="float64")),
            joined(columns.source, sources),
        )
        used = set(sources[inside]) if not np.isnan(future).all() else set()
        temperature_source = used.pop() if len(used) == 1 else ("mixed" if used else "none")

    notes = []
    if reason:
        notes.append(f"substituted: mean of the same local hour over the last {FALLBACK_DAYS} days")
    if frequency == "daily":
        points = _daily_points(columns.frame(), timezone) if len(columns.stamps) else []
        notes.append(DAILY_NOTE.format(tz=timezone))
    else:
        points = _hourly_points(columns)
    return ForecastResult(
        meter_id=meter_id,
        meter_type=meter_type,
        frequency=frequency,
        points=points,
        model_version=loaded[0].version if loaded and not reason and answered_by != "fleet" else None,
        substituted=reason is not None,
        substitution_reason=reason,
        temperature_source=temperature_source,
        last_reading=last,
        timezone=timezone,
        notes=notes,
        model=answered_by,
    )
