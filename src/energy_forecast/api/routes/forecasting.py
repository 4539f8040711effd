"""Forecast, chronological model test, fleet test and rolling-origin backtest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic_core import to_json

from energy_forecast.api.deps import ModelCacheDep, ModelStoreDep, SeriesStoreDep, TaskQueueDep, WeatherDep
from energy_forecast.api.forecast_schemas import (
    AllModelsRequest,
    BacktestPublic,
    BacktestRequest,
    FleetModelTestAccepted,
    FleetModelTestPublic,
    ForecastPublic,
    ForecastRequest,
    ModelTestPublic,
    ModelTestRequest,
    ModelTestResultsPublic,
)
from energy_forecast.api.schemas import TASK_ID_PATTERN
from energy_forecast.errors import InputDataError, NotFoundError
from energy_forecast.services.evaluation import backtest_meter, evaluate_meter
from energy_forecast.services.fleet_model import is_fleet_model
from energy_forecast.services.forecast_cache import ModelCache, answer_version
from energy_forecast.services.forecast_points import ForecastPoint
from energy_forecast.services.forecasting import forecast_meter
from energy_forecast.services.weather import ProviderTemperature
from energy_forecast.storage.base import ModelStore, SeriesStore

router = APIRouter(tags=["forecasting"])
BatchIdPath = Annotated[str, Path(pattern=TASK_ID_PATTERN, description="batch id returned on enqueue")]


@router.post("/forecast/", response_model=ForecastPublic)
def forecast(
    body: ForecastRequest,
    store: SeriesStoreDep,
    models: ModelStoreDep,
    cache: ModelCacheDep,
    chain: WeatherDep,
) -> Response:
    """Readings and hourly (or daily) forecasts with bounds and temperature inside the window.

    A repeated request is answered from memory while the meter's data, its site's temperatures and
    its active model are unchanged (``answer_version``); ``generated_at`` then still says when the
    answer was computed. The body is serialised here, in the shape of ``ForecastPublic``: building
    and re-validating one pydantic model per point took a third of a 7-day request (the schema
    tests check the shape).
    """
    weather = ProviderTemperature(store, chain)
    version = answer_version(store, models, body.meter_type, body.meter_id, weather)
    key = (body.model_dump_json(), version)
    answer = cache.answers.get(key) if version is not None else None
    if answer is None:
        answer = _compute(body, store, models, cache, weather)
        if (
            version is not None
            and answer_version(store, models, body.meter_type, body.meter_id, weather) == version
        ):
            cache.answers.put(key, answer)
    return Response(answer, media_type="application/json")


def _compute(
    body: ForecastRequest,
    store: SeriesStore,
    models: ModelStore,
    cache: ModelCache,
    weather: ProviderTemperature,
) -> bytes:
    result = forecast_meter(
        store,
        models,
        meter_id=body.meter_id,
        meter_type=body.meter_type,
        start=body.start_date,
        end=body.end_date,
        frequency=body.frequency,
        cache=cache,
        weather=weather,
    )
    content = {
        "forecast_data": [_point_content(p) for p in result.points],
        "meter_id": result.meter_id,
        "meter_type": result.meter_type.value,
        "frequency": result.frequency,
        "model_version": result.model_version,
        "model": result.model,
        "substituted": result.substituted,
        "substitution_reason": result.substitution_reason,
        "temperature_source": result.temperature_source,
        "last_reading": result.last_reading.to_pydatetime(),
        "timezone": result.timezone,
        "generated_at": datetime.now(UTC),
        "notes": result.notes,
        "location": body.location(),
    }
    return to_json(content)


def _point_content(p: ForecastPoint) -> dict[str, object]:
    """One ``ForecastPointPublic``; fields without a value are left out (the seed's compact shape)."""
    content: dict[str, object] = {"datetime": p.label, "value": p.value, "type": p.kind}
    optional = {
        "temperature": p.temperature,
        "lower": p.lower,
        "upper": p.upper,
        "temperature_source": p.temperature_source,
        "hours": p.hours,
        "quantiles": p.quantiles,
    }
    content.update((name, value) for name, value in optional.items() if value is not None)
    return content


@router.post("/test_model/", response_model=ModelTestPublic)
def test_model(
    body: ModelTestRequest, store: SeriesStoreDep, models: ModelStoreDep, cache: ModelCacheDep
) -> ModelTestPublic:
    """Train on the first 1 - test_size of the history, score day-ahead on the rest."""
    result = evaluate_meter(
        store,
        meter_id=body.meter_id,
        meter_type=body.meter_type,
        test_size=body.test_size,
        model_store=models,
        levels=cache.levels,
    )
    return ModelTestPublic(
        test_results=ModelTestResultsPublic(
            meter_type=result.meter_type,
            test_samples=result.test_samples,
            metrics=result.metrics,
            baseline_metrics=result.baseline_metrics,
            performance_summary=result.performance_summary,
            test_window=result.test_window,
            message=result.message,
            location=body.location(),
        )
    )


@router.post("/test_model/all_models/", response_model=FleetModelTestAccepted, status_code=202)
def test_all_models(
    body: AllModelsRequest, models: ModelStoreDep, queue: TaskQueueDep
) -> FleetModelTestAccepted:
    """Queue the same test for every meter with an active model: one task per meter on the workers."""
    chosen = [m for m in models.list_models(body.meter_type) if not is_fleet_model(m)]
    if not chosen:
        raise InputDataError("no meter has a trained model; train some first (POST /trainmodel/batch/)")
    batch_id, task_ids = queue.enqueue_evaluation(
        [(m.meter_id, m.meter_type, m.version) for m in chosen], body.test_size
    )
    return FleetModelTestAccepted(
        batch_id=batch_id,
        meters=len(chosen),
        task_ids={m.meter_id: t for m, t in zip(chosen, task_ids, strict=True)},
        status_url=f"/test_model/all_models/{batch_id}",
    )


@router.get("/test_model/all_models/{batch_id}", response_model=FleetModelTestPublic)
def fleet_test_status(batch_id: BatchIdPath, queue: TaskQueueDep) -> dict[str, Any]:
    """Per-meter progress of a fleet test; the table and fleet medians once every task is done."""
    record = queue.read_evaluation(batch_id)
    if record is None:
        raise NotFoundError(f"fleet test {batch_id!r} is unknown or its records expired")
    return record


@router.post("/backtest/", response_model=BacktestPublic)
def backtest(
    body: BacktestRequest, store: SeriesStoreDep, models: ModelStoreDep, cache: ModelCacheDep
) -> BacktestPublic:
    """Rolling-origin backtest over the last N days: per-hour records and model/baseline metrics
    (with each configured quantile's pinball loss and coverage, CRPS and rCRPS)."""
    return BacktestPublic(
        **backtest_meter(
            store,
            model_store=models,
            meter_id=body.meter_id,
            meter_type=body.meter_type,
            horizon_hours=body.horizon_hours,
            days=body.days,
            levels=cache.levels,
        )
    )
