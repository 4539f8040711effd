"""The fleet model in production: train it as a task, keep it versioned, use it for blends and cold starts.

Training it is an ordinary training task for the reserved id ``FLEET_MODEL_ID`` (``POST
/trainmodel/`` with ``{"meter_id": "fleet-model", "meter_type": ...}``): ``train_meter`` hands that
id to ``train_fleet`` here, so it gets the task path's progress, cancel, retries and status for
free, and a scheduler retrains it like any meter. The bundle is saved through the ``ModelStore``
Protocol under that id (versions, activation and rollback as for a meter), with ``kind: fleet``
in its metadata so meter listings can leave it out.

Meters are read one at a time and only their sampled rows kept (``ml.fleet``), so memory stays
bounded whatever the fleet size.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.tasks import NullReporter, ProgressReporter, TaskState
from energy_forecast.errors import ModelNotFoundError, TrainingError
from energy_forecast.features.spec import build_features
from energy_forecast.ml.baselines import baseline_frame
from energy_forecast.ml.blend import (
    MIN_OWN_DAYS,
    BlendWeights,
    blend_frame,
    blended_forecast,
    fit_blend,
    fit_cold_blend,
    own_model_days,
)
from energy_forecast.ml.fleet import (
    FLEET_MODEL_ID,
    MAX_ROWS,
    FleetMember,
    FleetModel,
    fit_fleet,
    has_fleet_history,
)
from energy_forecast.ml.forecasting import forecast
from energy_forecast.ml.model import ForecastModel
from energy_forecast.ml.params import default_params
from energy_forecast.ml.training import TrainingResult
from energy_forecast.services.memo import Memo
from energy_forecast.services.meters import meter_calendar
from energy_forecast.storage.base import ModelStore, ModelVersion, SeriesStore

_LOADED: Memo[FleetModel] = Memo(8)
_HONEST: Memo[FleetModel] = Memo(8)
# Backtests train their own fleet model before the first origin; fewer rows keep that quick.
HONEST_MAX_ROWS = 100_000


def is_fleet_model(info: ModelVersion) -> bool:
    """Whether a stored version is a fleet model (listings of meters' models skip it)."""
    return info.meter_id == FLEET_MODEL_ID and info.metadata.get("kind") == "fleet"


def train_fleet(
    store: SeriesStore,
    model_store: ModelStore,
    *,
    meter_type: MeterType,
    end: pd.Timestamp | None = None,
    reporter: ProgressReporter | None = None,
    fit_threads: int | None = None,
    max_rows: int = MAX_ROWS,
) -> dict[str, Any]:
    """Train and save a new active fleet model of ``meter_type`` on readings before ``end``.

    Raises:
        TrainingError: fewer than two meters of the type with a week of readings.
        StorageError: a store is unreachable or the bundle cannot be written.
    """
    reporter = reporter or NullReporter()
    meter_type = MeterType(meter_type)
    started = time.perf_counter()
    reporter.stage(TaskState.CONNECTING, "Connecting to the time-series store")
    store.ping()
    meters = {m.meter_id: m for m in store.list_meters() if m.meter_type == meter_type}
    temperatures: dict[str, pd.Series | None] = {}

    def load(meter_id: str) -> FleetMember | None:
        meter = meters[meter_id]
        readings = store.read_readings(meter_type, meter_id, None, end)
        if readings.empty:
            return None
        if meter.site_id not in temperatures:
            stored = store.read_temperature(meter.site_id)
            temperatures[meter.site_id] = stored if not stored.empty else None
        timezone, country = meter_calendar(store, meter)
        return FleetMember(meter_id, readings, temperatures[meter.site_id], timezone, country)

    reporter.stage(TaskState.FETCHING_DATA, f"Reading {len(meters)} {meter_type.value} meters one at a time")
    params = default_params(meter_type)
    if fit_threads is not None:
        params = replace(params, n_jobs=max(1, fit_threads))
    reporter.stage(TaskState.TRAINING_MODEL, f"Training the {meter_type.value} fleet model")
    fleet = fit_fleet(list(meters), load, meter_type, until=end, max_rows=max_rows, params=params)
    reporter.stage(
        TaskState.SAVING_MODEL, "Saving the fleet model bundle", {"meters": fleet.metadata["meters"]}
    )
    metadata = {**fleet.metadata, "meter_id": FLEET_MODEL_ID, "meter_type": meter_type.value}
    saved = model_store.save(meter_type, FLEET_MODEL_ID, fleet.to_artifacts(), metadata)
    return {
        "meter_id": FLEET_MODEL_ID,
        "meter_type": meter_type.value,
        "model": "fleet",
        "meters": fleet.metadata["meters"],
        "rows": fleet.metadata["rows"],
        "model_path": f"models/{saved.location}",
        "model_version": saved.version,
        "training_completed": datetime.now(UTC).isoformat(),
        "training_time_seconds": round(time.perf_counter() - started, 3),
    }


def load_fleet(model_store: ModelStore, meter_type: MeterType) -> tuple[ModelVersion, FleetModel] | None:
    """The active fleet model of a type (parsed once per process and version), or None."""
    try:
        info = model_store.get_version(MeterType(meter_type), FLEET_MODEL_ID)
    except ModelNotFoundError:
        return None
    key = (info.meter_type.value, info.version, str(info.created_at), info.location)
    fleet = _LOADED.get(key)
    if fleet is None:
        info, artifacts = model_store.load(info.meter_type, FLEET_MODEL_ID, info.version)
        try:
            fleet = FleetModel.from_artifacts(artifacts)
        except ValueError:
            return None
        _LOADED.put(key, fleet)
    return info, fleet


def fleet_model_for(
    model_store: ModelStore, store: SeriesStore, meter: Meter, readings: pd.Series
) -> tuple[int, ForecastModel] | None:
    """(fleet version, the fleet's model for this meter), or None without an active fleet model."""
    loaded = load_fleet(model_store, meter.meter_type)
    if loaded is None:
        return None
    timezone, country = meter_calendar(store, meter)
    return loaded[0].version, loaded[1].model_for(meter.meter_id, readings, timezone, country)


def blend_for_training(
    model_store: ModelStore,
    store: SeriesStore,
    meter: Meter,
    readings: pd.Series,
    temperature: pd.Series | None,
    result: TrainingResult,
) -> BlendWeights | None:
    """Blend weights for a freshly trained meter from its hold-out (None: no hold-out frame).

    Without an active fleet model the blend is of the meter's model and its best baseline only.
    """
    if result.holdout is None:
        return None
    fleet = fleet_model_for(model_store, store, meter, readings)
    version, model = fleet if fleet is not None else (None, None)
    if model is not None and own_model_days(readings) < MIN_OWN_DAYS:
        # Too short a history for its own model to be trusted: the fleet model answers alone.
        return BlendWeights(0.0, 1.0, 0.0, "naive_7d", 1.0, len(result.holdout), version)
    return fit_blend(result.holdout, readings, temperature, model, fleet_version=version)


def fleet_forecast(
    model_store: ModelStore,
    store: SeriesStore,
    meter: Meter,
    model: ForecastModel | None,
    own: pd.DataFrame | None,
    readings: pd.Series,
    temperature: pd.Series | None,
    origin: pd.Timestamp,
    horizon_hours: int,
    levels: tuple[float, ...] | None = None,
) -> tuple[pd.DataFrame | None, str]:
    """(frame, which model answered) for ``forecast_meter``.

    ``levels``: the quantile levels the fleet model's frames carry (the meter model's otherwise).

    ``own`` is the meter model's forecast (None: no usable model). A bundle with blend weights gets
    the blend (``blend``, or ``fleet`` when its weights give everything to the fleet model); a meter
    without a model but with a week of readings gets the fleet model (``fleet``); otherwise
    ``own`` as it is (``meter``, or ``None`` for the caller's labelled fallback).
    """
    weights = model.metadata.get("blend") if model is not None and own is not None else None
    if own is not None and not weights:
        return own, "meter"
    if own is None and not has_fleet_history(readings):
        return None, "fallback"
    fleet = fleet_model_for(model_store, store, meter, readings)
    fleet_model = fleet[1] if fleet is not None else None
    if fleet_model is not None:
        fleet_model.levels = levels or (model.levels if model is not None else fleet_model.levels)
    if own is None or model is None:
        if fleet_model is None:
            return None, "fallback"
        past = readings[readings.index < origin]
        cold = fit_cold_blend(past, temperature, fleet_model)
        if cold is None:
            return forecast(fleet_model, readings, temperature, origin, horizon_hours), "fleet"
        return blended_forecast(
            fleet_model, None, cold, readings, temperature, origin, horizon_hours
        ), "fleet"
    blend = BlendWeights.from_dict(weights)
    if fleet_model is not None and blend.model == 0 and blend.baseline == 0:
        return forecast(fleet_model, readings, temperature, origin, horizon_hours), "fleet"
    frame = blended_forecast(model, fleet_model, blend, readings, temperature, origin, horizon_hours, own=own)
    return frame, "blend"


def fleet_token(model_store: ModelStore, meter_type: MeterType) -> tuple[int, str] | None:
    """The active fleet version (part of the forecast answer cache key), None without one."""
    try:
        info = model_store.get_version(MeterType(meter_type), FLEET_MODEL_ID)
    except ModelNotFoundError:
        return None
    return info.version, str(info.created_at)


def honest_fleet(
    store: SeriesStore, model_store: ModelStore, meter_type: MeterType, until: pd.Timestamp
) -> FleetModel | None:
    """A fleet model trained now on every meter's readings before ``until`` (a backtest's first origin).

    Only when the type has an active fleet model (the operator uses one); None otherwise, or when
    too few meters have a week of readings before ``until``. Never the stored model itself: that
    one may have seen the scored days. Memoised per (type, until, the stores' data versions).
    """
    if load_fleet(model_store, meter_type) is None:
        return None
    meters = [m for m in store.list_meters() if m.meter_type == MeterType(meter_type)]
    versions = tuple(store.data_version(m.meter_type, m.meter_id, m.site_id) for m in meters)
    key = (MeterType(meter_type).value, until, id(store), versions)
    cached = _HONEST.get(key) if None not in versions else None
    if cached is not None:
        return cached
    by_id = {m.meter_id: m for m in meters}

    def load(meter_id: str) -> FleetMember | None:
        meter = by_id[meter_id]
        readings = store.read_readings(meter.meter_type, meter_id, None, until)
        if readings.empty:
            return None
        stored = store.read_temperature(meter.site_id)
        timezone, country = meter_calendar(store, meter)
        return FleetMember(meter_id, readings, stored if not stored.empty else None, timezone, country)

    try:
        fleet = fit_fleet(list(by_id), load, meter_type, until=until, max_rows=HONEST_MAX_ROWS)
    except TrainingError:
        return None
    if None not in versions:
        _HONEST.put(key, fleet)
    return fleet


def blended_test_frame(
    fleet: FleetModel,
    training: TrainingResult,
    meter_id: str,
    readings: pd.Series,
    temperature: pd.Series | None,
    own: pd.DataFrame,
    calendar: tuple[str, str | None],
) -> tuple[pd.DataFrame, str]:
    """``/test_model/``: the blend's day-ahead forecasts of the test hours ``own.index`` (else ``own``).

    ``fleet`` must have been trained before the first test hour (``honest_fleet``); the weights
    come from the training part's hold-out, as a training would choose them.
    """
    index = pd.DatetimeIndex(own.index)
    train = readings[readings.index < index[0]]
    model = fleet.model_for(meter_id, train, *calendar)
    weights = fit_blend(training.holdout, train, temperature, model) if training.holdout is not None else None
    if weights is None:
        return own, "meter"
    fleet_values = model.predict(build_features(readings, temperature, model.spec, index))
    baseline = baseline_frame(readings, index, np.zeros(len(index), dtype=np.int64))[weights.baseline_name]
    return blend_frame(own, fleet_values, baseline.to_numpy(), weights), "blend"
