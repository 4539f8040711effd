"""Train one meter: load, validate, fit, evaluate, save, reporting each stage boundary.

The pure work (quality checks, features, fitting, hold-out metrics) lives in ``ml``; this module
only moves data between the stores and it. A cancel requested while the task runs surfaces as
``TaskCancelled`` from ``reporter.stage`` at the next boundary, before anything is saved.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import structlog

from energy_forecast.domain.meters import Meter, MeterType, validate_meter_id
from energy_forecast.domain.series import empty_series
from energy_forecast.domain.tasks import NullReporter, ProgressReporter, TaskState
from energy_forecast.errors import ModelNotFoundError, NoDataFoundError
from energy_forecast.ml.fleet import FLEET_MODEL_ID
from energy_forecast.ml.params import ModelParams, default_params
from energy_forecast.ml.training import fit_model
from energy_forecast.services.champion import challenge
from energy_forecast.services.fleet_model import blend_for_training, train_fleet
from energy_forecast.services.meters import meter_calendar, registered_meter
from energy_forecast.services.scenarios import RESIDUALS_FIELD, holdout_residual_days
from energy_forecast.storage.base import ModelStore, ModelVersion, SeriesStore

log = structlog.get_logger(__name__)


def _window_text(start: pd.Timestamp | None, end: pd.Timestamp | None) -> str:
    if start is None and end is None:
        return "all readings"
    first = start.isoformat() if start is not None else "the first reading"
    last = end.isoformat() if end is not None else "the last reading"
    return f"{first} .. {last}"


def load_training_data(
    store: SeriesStore,
    meter: Meter,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> tuple[pd.Series, pd.Series]:
    """The meter's readings in ``[start, end)`` and its site's temperature over the same hours."""
    readings = store.read_readings(meter.meter_type, meter.meter_id, start, end)
    if readings.empty:
        return readings, empty_series("temperature")
    first, last = readings.index[0], readings.index[-1] + pd.Timedelta(hours=1)
    temperature = store.read_temperature(meter.site_id, first, last)
    return readings, temperature


def train_meter(
    store: SeriesStore,
    model_store: ModelStore,
    *,
    meter_id: str,
    meter_type: MeterType,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    reporter: ProgressReporter | None = None,
    fit_threads: int | None = None,
    force: bool = False,
    accept_margin: float = 0.05,
    params: ModelParams | None = None,
) -> dict[str, Any]:
    """Train and save a new model version; returns the seed's ``result.details``.

    The version becomes active only if it is not worse than the active one by more than
    ``accept_margin`` (``services.champion``), or with ``force``; otherwise it is kept as rejected.

    ``params`` replaces the meter type's default hyper-parameters (tuning experiments, tests).
    ``fit_threads`` caps XGBoost's threads: several fits sharing the cores each with a full
    thread pool oversubscribe them, and OpenMP's spin-waiting then makes every fit ~10x slower.

    Raises:
        NoDataFoundError: no readings for the meter in the window.
        InsufficientDataError, FlatlineError: the readings cannot support a model.
        StorageError: a store is unreachable or the model cannot be written.
    """
    reporter = reporter or NullReporter()
    validate_meter_id(meter_id)
    meter_type = MeterType(meter_type)
    if meter_id == FLEET_MODEL_ID:  # the reserved id trains the type's fleet model
        return train_fleet(
            store, model_store, meter_type=meter_type, end=end, reporter=reporter, fit_threads=fit_threads
        )
    started = time.perf_counter()

    reporter.stage(TaskState.CONNECTING, "Connecting to the time-series store")
    if reporter.redelivered and reporter.task_id is not None:
        earlier = _saved_by_task(model_store, meter_type, meter_id, reporter.task_id)
        if earlier is not None:
            return _details(earlier, time_seconds=earlier.metadata.get("training_time_seconds"))
    store.ping()
    meter = registered_meter(store, meter_id, meter_type)

    reporter.stage(TaskState.FETCHING_DATA, f"Fetching readings ({_window_text(start, end)})")
    readings, temperature = load_training_data(store, meter, start, end)
    if readings.empty:
        raise NoDataFoundError(
            f"meter {meter_id!r} has no readings in {_window_text(start, end)}", meter_id=meter_id
        )

    reporter.stage(
        TaskState.VALIDATING_DATA,
        "Validating readings",
        {"data_points": len(readings), "temperature_points": len(temperature)},
    )
    reporter.stage(TaskState.TRAINING_MODEL, f"Training XGBoost on {len(readings)} hourly readings")
    params = params or default_params(meter_type)
    if fit_threads is not None:
        params = replace(params, n_jobs=max(1, fit_threads))
    timezone, country = meter_calendar(store, meter)
    weather = temperature if not temperature.empty else None
    result = fit_model(
        readings,
        weather,
        meter_id=meter_id,
        meter_type=meter_type,
        timezone=timezone,
        country=country,
        params=params,
    )

    blend = blend_for_training(model_store, store, meter, readings, weather, result, (timezone, country))
    if blend is not None:
        result.model.metadata["blend"] = blend.to_dict()
    reporter.stage(TaskState.SAVING_MODEL, "Saving the model bundle", {"metrics": result.metrics})
    first, last = result.training_window
    metadata = {
        "meter_id": meter_id,
        "meter_type": meter_type.value,
        "site_id": meter.site_id,
        "timezone": timezone,
        "country": country,
        "data_points": result.data_points,
        "training_window": {"start": pd.Timestamp(first).isoformat(), "end": pd.Timestamp(last).isoformat()},
        "requested_window": {
            "start": start.isoformat() if start is not None else None,
            "end": end.isoformat() if end is not None else None,
        },
        "metrics": result.metrics,
        "blend": blend.to_dict() if blend is not None else None,
        RESIDUALS_FIELD: holdout_residual_days(
            model_store, store, meter, readings, weather, result, blend, (timezone, country)
        ),
        "task_id": reporter.task_id,
    }
    verdict = challenge(
        model_store, meter_type, meter_id, readings, weather, result,
        margin=accept_margin, force=force,
    )  # fmt: skip
    metadata["acceptance"] = verdict.to_dict()
    metadata["training_time_seconds"] = round(time.perf_counter() - started, 3)
    saved = model_store.save(
        meter_type, meter_id, result.model.to_artifacts(), metadata, activate=verdict.accepted
    )
    return _details(saved, time_seconds=round(time.perf_counter() - started, 3))


def _saved_by_task(
    model_store: ModelStore, meter_type: MeterType, meter_id: str, task_id: str
) -> ModelVersion | None:
    """The version an earlier attempt of this task saved, made active if its verdict said so.

    Tasks are delivered at least once: a worker that dies between its save and its SUCCESS record
    leaves the task to be run again. Returning the saved version makes the second run end the
    task as the first would have, without a second fit or a second version of the same training.
    """
    versions = model_store.list_versions(meter_type, meter_id)
    mine = [v for v in versions if v.metadata.get("task_id") == task_id]
    if not mine:
        return None
    saved = mine[-1]
    accepted = bool(saved.metadata.get("acceptance", {}).get("accepted", True))
    if accepted and not saved.active:  # the attempt died between the manifest and the pointer
        try:
            newer_active = model_store.get_version(meter_type, meter_id).version > saved.version
        except ModelNotFoundError:
            newer_active = False
        if not newer_active:
            saved = model_store.activate(meter_type, meter_id, saved.version)
    log.info("training_found_saved_by_earlier_attempt", version=saved.version, active=saved.active)
    return saved


def _details(saved: ModelVersion, *, time_seconds: float | None) -> dict[str, Any]:
    """The seed's ``result.details`` of a training, from the version it saved."""
    metadata = saved.metadata
    acceptance = metadata.get("acceptance", {})
    return {
        "meter_id": saved.meter_id,
        "meter_type": saved.meter_type.value,
        "data_points": metadata["data_points"],
        # Relative to EF_HOME, as in the seed ("models/electricity/meter_001..."): a task status
        # is read by API clients, who need no absolute path of the server.
        "model_path": f"models/{saved.location}",
        "model_version": saved.version,
        "training_completed": metadata.get("saved_at") or datetime.now(UTC).isoformat(),
        "training_time_seconds": time_seconds,
        "training_window": metadata["training_window"],
        "metrics": metadata["metrics"],
        "status": "active" if acceptance.get("accepted", True) else "rejected",
        "acceptance": acceptance,
    }
