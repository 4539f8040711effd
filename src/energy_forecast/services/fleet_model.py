"""The global ensemble member in production: trained as a task, kept versioned, read by every answer.

Training it is an ordinary training task under an internal id (``FLEET_MODEL_ID``), enqueued by
``train --all``, ``POST /trainmodel/batch/`` and the scheduler for every meter type they touch,
so it gets the task path's progress, cancel, retries and status for free; nobody has to know the
id. ``train_meter`` hands that id to ``train_fleet`` here. The bundle is saved through the
``ModelStore`` Protocol (versions, activation and rollback as for a meter), with ``kind: fleet``
in its metadata so meter listings can leave it out.

One bundle holds two global models of the type: the current one (every reading) that forecasts,
and a *backtest edition* trained only on readings before a cutoff (the first origin of the
default 28-day backtest of the type's newest meters), which ``/backtest/``, ``energy-forecast
backtest`` and ``/test_model/`` read for any scored period that starts at or after that cutoff.
So no request trains anything, and a backtest never scores a global model on days it saw. The
bundle also keeps the fleet-wide ensemble weights (``prior``), the mean of the type's meters'
own hold-out weights, toward which each meter's weights are shrunk.

Meters are read one at a time and only their sampled rows kept (``ml.fleet``), so memory stays
bounded whatever the fleet size.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.tasks import NullReporter, ProgressReporter, TaskState
from energy_forecast.errors import ModelNotFoundError, TrainingError
from energy_forecast.features.spec import build_features
from energy_forecast.ml.baselines import baseline_frame
from energy_forecast.ml.blend import (
    DEFAULT_PRIOR,
    MIN_OWN_DAYS,
    BlendWeights,
    blend_frame,
    blended_forecast,
    default_prior,
    fit_blend,
    fleet_prior,
    own_model_days,
)
from energy_forecast.ml.cold_blend import fit_cold_blend
from energy_forecast.ml.fleet import (
    FLEET_MODEL_ID,
    MAX_ROWS,
    FleetMember,
    FleetModel,
    fit_fleet,
    global_params,
    has_fleet_history,
)
from energy_forecast.ml.forecasting import forecast
from energy_forecast.ml.model import ForecastModel
from energy_forecast.ml.training import TrainingResult
from energy_forecast.services.memo import Memo
from energy_forecast.services.meters import meter_calendar
from energy_forecast.storage.base import ModelStore, ModelVersion, SeriesStore

_LOADED: Memo[FleetModel] = Memo(8)
# The backtest edition: fewer rows keep its training quick (it only scores, never forecasts).
HONEST_MAX_ROWS = 100_000
BACKTEST_DAYS = 28
EDITION_PREFIX = "backtest_"
# Meters whose newest reading is older than this before the type's newest set no cutoff: a meter
# retired a year ago must not pull every backtest edition back to its own days.
CUTOFF_REACH = pd.Timedelta(days=BACKTEST_DAYS)


def global_member_jobs(
    meters: list[Meter],
    types: set[MeterType],
    *,
    unless_fresh: tuple[ModelStore, timedelta] | None = None,
) -> list[tuple[str, MeterType]]:
    """The global-member trainings (internal id, type) for ``types``: those with two meters or more.

    What ``train --all``, ``POST /trainmodel/batch/`` and the scheduler enqueue beside the meters.
    ``unless_fresh=(model_store, max_age)`` leaves out a type whose active global member is younger
    than ``max_age``: training a few named meters must not retrain the whole type's global member
    each time (its own schedule keeps it fresh); training every meter always retrains it.
    """
    counts: dict[MeterType, int] = {}
    for meter in meters:
        counts[meter.meter_type] = counts.get(meter.meter_type, 0) + 1
    wanted = [t for t in MeterType if t in types and counts.get(t, 0) >= 2]
    if unless_fresh is not None:
        wanted = [t for t in wanted if not global_member_is_fresh(*unless_fresh, t)]
    return [(FLEET_MODEL_ID, t) for t in wanted]


def global_member_is_fresh(
    model_store: ModelStore, max_age: timedelta, meter_type: MeterType, now: datetime | None = None
) -> bool:
    """Whether the type's active global member was saved less than ``max_age`` ago."""
    try:
        info = model_store.get_version(MeterType(meter_type), FLEET_MODEL_ID)
    except ModelNotFoundError:
        return False
    if not info.created_at:
        return False
    return (now or datetime.now(UTC)) - datetime.fromisoformat(info.created_at) <= max_age


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
    calendars: dict[str, tuple[str, str | None]] = {}  # each meter is read once per pass

    def load(meter_id: str) -> FleetMember | None:
        meter = meters[meter_id]
        readings = store.read_readings(meter_type, meter_id, None, end)
        if readings.empty:
            return None
        if meter.site_id not in temperatures:
            stored = store.read_temperature(meter.site_id)
            temperatures[meter.site_id] = stored if not stored.empty else None
        if meter_id not in calendars:
            calendars[meter_id] = meter_calendar(store, meter)
        timezone, country = calendars[meter_id]
        return FleetMember(meter_id, readings, temperatures[meter.site_id], timezone, country)

    reporter.stage(TaskState.FETCHING_DATA, f"Reading {len(meters)} {meter_type.value} meters one at a time")
    params = global_params(meter_type)
    if fit_threads is not None:
        params = replace(params, n_jobs=max(1, fit_threads))
    last: dict[str, pd.Timestamp] = {}

    def load_noting_last(meter_id: str) -> FleetMember | None:
        member = load(meter_id)
        if member is not None:
            last[meter_id] = member.consumption.index[-1]
        return member

    reporter.stage(TaskState.TRAINING_MODEL, f"Training the {meter_type.value} global member")
    fleet = fit_fleet(list(meters), load_noting_last, meter_type, until=end, max_rows=max_rows, params=params)
    artifacts = fleet.to_artifacts()
    cutoff = edition_cutoff(last)
    edition = None
    if cutoff is not None:
        reporter.stage(TaskState.TRAINING_MODEL, f"Training the backtest edition (before {cutoff.date()})")
        try:
            edition = fit_fleet(
                list(meters), load, meter_type, until=cutoff, max_rows=HONEST_MAX_ROWS, params=params
            )
        except TrainingError:  # too few meters with a week before the cutoff: backtests go without
            edition = None
    if edition is not None:
        artifacts.update({EDITION_PREFIX + k: v for k, v in edition.to_artifacts().items()})
    prior = fleet_prior(
        [
            tuple(v.metadata["blend"]["raw"])
            for v in model_store.list_models(meter_type)
            if not is_fleet_model(v) and (v.metadata.get("blend") or {}).get("raw") is not None
        ],
        meter_type,
    )
    reporter.stage(
        TaskState.SAVING_MODEL, "Saving the global member bundle", {"meters": fleet.metadata["meters"]}
    )
    metadata = {
        **fleet.metadata,
        "meter_id": FLEET_MODEL_ID,
        "meter_type": meter_type.value,
        "prior": list(prior),
        "backtest_until": edition.metadata["until"] if edition is not None else None,
    }
    saved = model_store.save(meter_type, FLEET_MODEL_ID, artifacts, metadata)
    return {
        "meter_id": FLEET_MODEL_ID,
        "meter_type": meter_type.value,
        "model": "global",
        "meters": fleet.metadata["meters"],
        "rows": fleet.metadata["rows"],
        "model_path": f"models/{saved.location}",
        "model_version": saved.version,
        "training_completed": datetime.now(UTC).isoformat(),
        "training_time_seconds": round(time.perf_counter() - started, 3),
    }


def edition_cutoff(last: dict[str, pd.Timestamp], days: int = BACKTEST_DAYS) -> pd.Timestamp | None:
    """The backtest edition's cutoff: the earliest first origin of a ``days``-day backtest among
    meters whose newest reading is within ``CUTOFF_REACH`` of the type's newest (None: no meter)."""
    if not last:
        return None
    newest = max(last.values())
    recent = [t for t in last.values() if newest - t <= CUTOFF_REACH]
    return min(t.floor("D") for t in recent) - pd.Timedelta(days=days - 1)


def load_fleet(
    model_store: ModelStore, meter_type: MeterType, *, edition: bool = False
) -> tuple[ModelVersion, FleetModel] | None:
    """The active global member of a type (parsed once per process and version), or None.

    ``edition``: its backtest edition instead (None when the bundle has none).
    """
    try:
        info = model_store.get_version(MeterType(meter_type), FLEET_MODEL_ID)
    except ModelNotFoundError:
        return None
    key = (info.meter_type.value, info.version, str(info.created_at), info.location, edition)
    fleet = _LOADED.get(key)
    if fleet is None:
        info, artifacts = model_store.load(info.meter_type, FLEET_MODEL_ID, info.version)
        if edition:
            artifacts = {
                k[len(EDITION_PREFIX) :]: v for k, v in artifacts.items() if k.startswith(EDITION_PREFIX)
            }
            if not artifacts:
                return None
        try:
            fleet = FleetModel.from_artifacts(artifacts)
        except ValueError:
            return None
        _LOADED.put(key, fleet)
    return info, fleet


def fleet_prior_of(model_store: ModelStore, meter_type: MeterType) -> tuple[float, float, float]:
    """The fleet-wide ensemble weights kept with the type's global member (defaults without one)."""
    try:
        info = model_store.get_version(MeterType(meter_type), FLEET_MODEL_ID)
    except ModelNotFoundError:
        return default_prior(meter_type)
    prior = info.metadata.get("prior")
    return (float(prior[0]), float(prior[1]), float(prior[2])) if prior else default_prior(meter_type)


def backtest_fleet(model_store: ModelStore, meter_type: MeterType, first: pd.Timestamp) -> FleetModel | None:
    """The kept global model that saw nothing at or after ``first`` (a scored period's start), or None.

    The backtest edition when its cutoff is at or before ``first``; never the current model (it
    may have seen the scored days). Nothing is trained here.
    """
    loaded = load_fleet(model_store, meter_type, edition=True)
    if loaded is None:
        return None
    until = loaded[1].metadata.get("until")
    return loaded[1] if until is not None and pd.Timestamp(until) <= first else None


def fleet_model_for(
    model_store: ModelStore,
    store: SeriesStore,
    meter: Meter,
    readings: pd.Series,
    calendar: tuple[str, str | None] | None = None,
) -> tuple[int, ForecastModel] | None:
    """(fleet version, the fleet's model for this meter), or None without an active fleet model.

    ``calendar``: the meter's ``meter_calendar`` when the caller has it (one site query fewer).
    """
    loaded = load_fleet(model_store, meter.meter_type)
    if loaded is None:
        return None
    timezone, country = calendar or meter_calendar(store, meter)
    return loaded[0].version, loaded[1].model_for(meter.meter_id, readings, timezone, country)


def blend_for_training(
    model_store: ModelStore,
    store: SeriesStore,
    meter: Meter,
    readings: pd.Series,
    temperature: pd.Series | None,
    result: TrainingResult,
    calendar: tuple[str, str | None] | None = None,
) -> BlendWeights | None:
    """Blend weights for a freshly trained meter from its hold-out (None: no hold-out frame).

    Without an active fleet model the blend is of the meter's model and its best baseline only.
    """
    if result.holdout is None:
        return None
    fleet = fleet_model_for(model_store, store, meter, readings, calendar)
    version, model = fleet if fleet is not None else (None, None)
    if model is not None and own_model_days(readings) < MIN_OWN_DAYS:
        # Too short a history for its own model to be trusted: the global member answers alone.
        return BlendWeights(0.0, 1.0, 0.0, "naive_7d", 1.0, len(result.holdout), version)
    prior = fleet_prior_of(model_store, meter.meter_type)
    return fit_blend(result.holdout, readings, temperature, model, fleet_version=version, prior=prior)


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
    """(frame, which forecaster answered) for ``forecast_meter``.

    ``levels``: the quantile levels the global member's frames carry (the meter model's otherwise).

    ``own`` is the meter model's forecast (None: no usable model). A bundle with ensemble weights
    gets the ensemble (``ensemble``); a bundle trained before its type had a global member gets
    the ensemble with the fleet-wide weights; a meter without a model but with a week of readings
    gets the global member (``global``); otherwise ``own`` as it is (``meter``, or ``None`` for
    the caller's labelled fallback).
    """
    weights = model.metadata.get("blend") if model is not None and own is not None else None
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
            return forecast(fleet_model, readings, temperature, origin, horizon_hours), "global"
        return blended_forecast(
            fleet_model, None, cold, readings, temperature, origin, horizon_hours
        ), "global"
    if not weights:
        return own, "meter"
    blend = BlendWeights.from_dict(weights)
    if fleet_model is not None and blend.fleet_version is None and blend.fleet == 0:
        # Trained before the type had a global member: the fleet-wide weights until it retrains.
        p_own, p_fleet, p_base = fleet_prior_of(model_store, meter.meter_type)
        blend = replace(blend, model=p_own, fleet=p_fleet, baseline=p_base)
    if fleet_model is not None and blend.model == 0 and blend.baseline == 0:
        return forecast(fleet_model, readings, temperature, origin, horizon_hours), "global"
    frame = blended_forecast(model, fleet_model, blend, readings, temperature, origin, horizon_hours, own=own)
    return frame, "ensemble"


def fleet_token(model_store: ModelStore, meter_type: MeterType) -> tuple[int, str] | None:
    """The active fleet version (part of the forecast answer cache key), None without one."""
    try:
        info = model_store.get_version(MeterType(meter_type), FLEET_MODEL_ID)
    except ModelNotFoundError:
        return None
    return info.version, str(info.created_at)


def blended_test_frame(
    fleet: FleetModel | None,
    training: TrainingResult,
    meter_id: str,
    readings: pd.Series,
    temperature: pd.Series | None,
    own: pd.DataFrame,
    calendar: tuple[str, str | None],
    prior: tuple[float, float, float] = DEFAULT_PRIOR,
) -> tuple[pd.DataFrame, str]:
    """``/test_model/``: the ensemble's day-ahead forecasts of the test hours ``own.index`` (else ``own``).

    ``fleet`` must have been trained before the first test hour (``backtest_fleet``; None: the
    ensemble of the meter's model and its best baseline); the weights come from the training
    part's hold-out, as a training would choose them.
    """
    index = pd.DatetimeIndex(own.index)
    train = readings[readings.index < index[0]]
    model = fleet.model_for(meter_id, train, *calendar) if fleet is not None else None
    weights = (
        fit_blend(training.holdout, train, temperature, model, prior=prior)
        if training.holdout is not None
        else None
    )
    if weights is None:
        return own, "meter"
    fleet_values = (
        model.predict(build_features(readings, temperature, model.spec, index)) if model is not None else None
    )
    baseline = baseline_frame(readings, index, np.zeros(len(index), dtype=np.int64))[weights.baseline_name]
    return blend_frame(own, fleet_values, baseline.to_numpy(), weights), "ensemble"
