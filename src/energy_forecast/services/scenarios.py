"""Joint forecast scenarios of one meter: the forecast's own point path plus S sample paths.

``meter_scenarios`` answers a ``ml.scenarios.Scenarios`` over a window. Its point path is exactly
what ``forecast_meter`` answers for those hours (it is computed by that call, nothing else), so a
peak, a cost or a group total read from the paths can never disagree with the forecast shown.

Each hour's values across the paths are the forecast's own calibrated quantile function (the
offsets and per-day widening its ``quantiles`` answer with, read on an even grid of levels); which
path takes which level is set by the ranks of whole UTC days of the meter's out-of-sample hold-out
residuals, kept in its bundle at training (``holdout_residual_days``, field ``RESIDUALS_FIELD``;
``ml.residual_days``, ``ml.copula``). So the marginals are calibrated and the paths keep the
dependence between hours (and, in a group, between meters) that those days showed; no request
trains anything. A forecast that the bundle's residuals do
not describe (the global member of a cold start, the same-hour-mean fallback) or a bundle written
before they were kept samples the forecast's own calibrated quantiles instead, comonotone within
a day; ``Scenarios.dependence`` says which.

``meter_inputs`` exposes the ingredients (point, residual days, widening) so a group can draw the
same calendar days for all its members (``services.group_forecast``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.ml.blend import BlendWeights, ensemble_holdout
from energy_forecast.ml.copula import schaake_paths
from energy_forecast.ml.forecasting import block_widening
from energy_forecast.ml.model import ForecastModel
from energy_forecast.ml.quantiles import GRID, key_level, quantile_key
from energy_forecast.ml.residual_days import (
    DEFAULT_SIZE,
    MIN_DAYS,
    ResidualDays,
    block_numbers,
    comonotone_paths,
    day_draws,
    residual_draws,
    residual_paths,
)
from energy_forecast.ml.scenarios import COMONOTONE, RESIDUAL_DAYS, Scenarios
from energy_forecast.ml.training import TrainingResult
from energy_forecast.services.fleet_model import fleet_model_for
from energy_forecast.services.forecast_cache import ModelCache
from energy_forecast.services.forecasting import ForecastResult, FutureTemperature, forecast_meter
from energy_forecast.storage.base import ModelStore, ModelVersion, SeriesStore

RESIDUALS_FIELD = "scenario_residuals"
# Levels the comonotone fallback reads the forecast's quantile function at (its own cache, so the
# shared cache's levels, which every answer's ``quantiles`` carry, are never changed).
SAMPLING_LEVELS: tuple[float, ...] = GRID
_SAMPLING_CACHE = ModelCache(max_entries=64, max_forecasts=64, levels=SAMPLING_LEVELS)
_JOINT_MODELS = ("meter", "ensemble")


def holdout_residual_days(
    model_store: ModelStore,
    store: SeriesStore,
    meter: Meter,
    readings: pd.Series,
    temperature: pd.Series | None,
    result: TrainingResult,
    blend: BlendWeights | None,
    calendar: tuple[str, str | None] | None = None,
) -> dict[str, object] | None:
    """The bundle field: the last weeks of the answering forecaster's hold-out residuals.

    The ensemble's out-of-sample day-ahead forecasts of the hold-out hours (``ensemble_holdout``)
    when the bundle has blend weights, else the meter model's own; None without a hold-out.
    """
    if result.holdout is None:
        return None
    frame = result.holdout
    if blend is not None:
        fleet = fleet_model_for(model_store, store, meter, readings, calendar) if blend.fleet > 0 else None
        frame = ensemble_holdout(frame, readings, temperature, fleet[1] if fleet else None, blend)
    days = ResidualDays.from_holdout(pd.DatetimeIndex(frame.index), frame["actual"], frame["forecast"])
    return days.to_dict() if days is not None else None


@dataclass(frozen=True)
class MeterInputs:
    """What a meter contributes to scenarios: its forecast hours and how to draw around them.

    ``days`` is ``(UTC dates, (days, 24) residuals)`` or None (then the paths are comonotone within
    a day); ``levels``/``quantiles`` hold the forecast's quantile function per hour, the marginals
    of its paths.
    """

    result: ForecastResult
    index: pd.DatetimeIndex
    point: np.ndarray
    widen: np.ndarray
    days: tuple[pd.DatetimeIndex, np.ndarray] | None
    levels: tuple[float, ...] = ()
    quantiles: np.ndarray | None = None

    @property
    def fallback(self) -> bool:
        """Answered by the labelled same-hour-mean fallback rather than a model."""
        return self.result.model == "fallback"


def _forecast_hours(result: ForecastResult) -> tuple[pd.DatetimeIndex, np.ndarray, list[dict[str, float]]]:
    ahead = [p for p in result.points if p.kind == "forecast"]
    index = pd.DatetimeIndex([pd.Timestamp(p.label) for p in ahead], tz="UTC") if ahead else None
    index = index if index is not None else pd.DatetimeIndex([], tz="UTC")
    return index, np.array([p.value for p in ahead], dtype="float64"), [p.quantiles or {} for p in ahead]


def meter_inputs(
    store: SeriesStore,
    model_store: ModelStore,
    *,
    meter_id: str,
    meter_type: MeterType,
    start: pd.Timestamp,
    end: pd.Timestamp,
    cache: ModelCache | None = None,
    weather: FutureTemperature | None = None,
) -> MeterInputs:
    """The meter's forecast over ``[start, end]`` and its residual days (or quantile function).

    Raises: what ``forecast_meter`` raises (bad window, unknown meter, no readings).
    """
    cache = cache or ModelCache()
    args = {"meter_id": meter_id, "meter_type": meter_type, "start": start, "end": end, "weather": weather}
    result = forecast_meter(store, model_store, cache=cache, **args)
    index, point, _ = _forecast_hours(result)
    origin = result.last_reading + pd.Timedelta(hours=1)
    blocks = block_numbers(index, origin)
    loaded = _loaded(cache, model_store, MeterType(meter_type), meter_id)
    widen = np.ones(len(index))
    if loaded is not None and len(index):
        factors = {int(k): block_widening(loaded[1], int(k)) for k in np.unique(blocks)}
        widen = np.array([factors[int(k)] for k in blocks], dtype="float64")
    days = None
    if loaded is not None and result.model in _JOINT_MODELS and not result.substituted:
        record = loaded[0].metadata.get(RESIDUALS_FIELD)
        if record:
            dates, table = ResidualDays.from_dict(record).matrix()
            days = (dates, table) if len(dates) >= MIN_DAYS else None
    if not len(index):
        return MeterInputs(result, index, point, widen, days)
    fine = forecast_meter(store, model_store, cache=_SAMPLING_CACHE, **args)
    _, _, quantiles = _forecast_hours(fine)
    levels = tuple(sorted({key_level(k) for q in quantiles for k in q}))
    table = np.array(
        [[q.get(quantile_key(level), np.nan) for q in quantiles] for level in levels], dtype="float64"
    )
    table = np.where(np.isfinite(table), table, point[None, :])
    return MeterInputs(result, index, point, widen, days, levels, table)


def _loaded(
    cache: ModelCache, model_store: ModelStore, meter_type: MeterType, meter_id: str
) -> tuple[ModelVersion, ForecastModel] | None:
    try:
        return cache.get(model_store, meter_type, meter_id)
    except ValueError:
        return None


def inputs_paths(
    inputs: MeterInputs,
    draws: np.ndarray | None,
    table: np.ndarray | None,
    size: int,
    seed: int,
    dates: pd.DatetimeIndex | None = None,
) -> np.ndarray:
    """``(S, hours)`` paths of one meter: its calibrated quantiles ranked by the residual days at
    ``draws`` (rows of ``table``, one draw column per UTC date of ``dates``; ``ml.copula``), else
    its quantiles sampled comonotone within a day."""
    if not len(inputs.index):
        return np.zeros((size, 0))
    if table is not None and draws is not None:
        if inputs.quantiles is None or not inputs.levels:
            return residual_paths(inputs.point, inputs.index, table, draws, inputs.widen, dates=dates)
        scores = residual_draws(inputs.index, table, draws, dates=dates)
        return schaake_paths(scores, inputs.levels, inputs.quantiles)
    if inputs.quantiles is None or not inputs.levels:
        return np.repeat(inputs.point[None, :], size, axis=0)
    return comonotone_paths(inputs.index, inputs.levels, inputs.quantiles, size, seed)


def meter_scenarios(
    store: SeriesStore,
    model_store: ModelStore,
    *,
    meter_id: str,
    meter_type: MeterType,
    start: pd.Timestamp,
    end: pd.Timestamp,
    size: int = DEFAULT_SIZE,
    seed: int = 0,
    cache: ModelCache | None = None,
    weather: FutureTemperature | None = None,
) -> Scenarios:
    """``size`` joint paths of the meter's forecast hours inside ``[start, end]`` (UTC, inclusive).

    Hours with readings are not part of the scenarios (they are known); ``point`` equals the
    forecast's ``value`` at each forecast hour. Deterministic for a given ``seed``.

    Raises: what ``forecast_meter`` raises.
    """
    inputs = meter_inputs(
        store, model_store, meter_id=meter_id, meter_type=meter_type, start=start, end=end,
        cache=cache, weather=weather,
    )  # fmt: skip
    draws = table = None
    if inputs.days is not None:
        draws = day_draws(inputs.index, len(inputs.days[0]), size, seed)
        table = inputs.days[1]
    paths = inputs_paths(inputs, draws, table, size, seed)
    meter = store.get_meter(meter_id)
    return Scenarios(
        index=inputs.index,
        point=inputs.point,
        paths=paths,
        unit=meter.unit if meter is not None else "",
        model=inputs.result.model,
        members=1,
        fallbacks=int(inputs.fallback),
        dependence=RESIDUAL_DAYS if inputs.days is not None else COMONOTONE,
    )
