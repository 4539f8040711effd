"""Forecast, chronological model test, fleet test and rolling-origin backtest."""

from __future__ import annotations

import uuid
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic_core import to_json

from energy_forecast.api.deps import (
    ModelCacheDep,
    ModelStoreDep,
    SeriesStoreDep,
    SettingsDep,
    TaskQueueDep,
    WeatherDep,
)
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
from energy_forecast.api.quotas import QueuedWorkDep, redis_errors
from energy_forecast.api.schemas import TASK_ID_PATTERN
from energy_forecast.errors import InputDataError, NotFoundError
from energy_forecast.services.evaluation import backtest_meter, evaluate_meter
from energy_forecast.services.fleet_model import is_fleet_model
from energy_forecast.services.forecast_cache import ModelCache, answer_version, group_answer_version
from energy_forecast.services.forecast_points import ForecastPoint
from energy_forecast.services.forecasting import forecast_meter
from energy_forecast.services.group_backtest import backtest_group
from energy_forecast.services.group_forecast import group_points, group_scenarios
from energy_forecast.services.groups import get_group
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
    if body.group_id is not None:  # a group's total, from its members' answers
        group_id = body.group_id

        def version_now() -> Hashable | None:
            return group_answer_version(store, models, group_id, weather)

        compute = _compute_group
    else:
        meter_id = body.meter_id
        assert meter_id is not None

        def version_now() -> Hashable | None:
            return answer_version(store, models, body.meter_type, meter_id, weather)

        compute = _compute
    version = version_now()
    key = (body.model_dump_json(), version)
    answer = cache.answers.get(key) if version is not None else None
    if answer is None:
        answer = compute(body, store, models, cache, weather)
        if version is not None and version_now() == version:
            cache.answers.put(key, answer)
    return Response(answer, media_type="application/json")


def _compute(
    body: ForecastRequest,
    store: SeriesStore,
    models: ModelStore,
    cache: ModelCache,
    weather: ProviderTemperature,
) -> bytes:
    assert body.meter_id is not None
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


def _compute_group(
    body: ForecastRequest,
    store: SeriesStore,
    models: ModelStore,
    cache: ModelCache,
    weather: ProviderTemperature,
) -> bytes:
    assert body.group_id is not None
    group = get_group(store, body.group_id).group
    if group.meter_type != body.meter_type:
        raise NotFoundError(
            f"group {body.group_id!r} is {group.meter_type.value}, not {body.meter_type.value}"
        )
    answer = group_scenarios(
        store, models, group_id=body.group_id, start=body.start_date, end=body.end_date,
        cache=cache, weather=weather,
    )  # fmt: skip
    points = group_points(answer, cache.levels, body.frequency)
    scenarios = answer.scenarios
    content = {
        "forecast_data": [_point_content(p) for p in points],
        "meter_id": None,
        "group_id": answer.group_id,
        "members": scenarios.members,
        "fallbacks": scenarios.fallbacks,
        "member_models": answer.member_models,
        "meter_type": answer.meter_type.value,
        "frequency": body.frequency,
        "model_version": None,
        "model": "group",
        "substituted": scenarios.fallbacks > 0,
        "substitution_reason": answer.notes[-1] if scenarios.fallbacks else None,
        "temperature_source": "none",
        "last_reading": answer.last_reading.to_pydatetime(),
        "timezone": answer.timezone,
        "generated_at": datetime.now(UTC),
        "notes": [f"scenarios: {scenarios.dependence}", *answer.notes],
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
    body: AllModelsRequest, models: ModelStoreDep, queue: TaskQueueDep, work: QueuedWorkDep
) -> FleetModelTestAccepted:
    """Queue the same test for every meter with an active model: one task per meter on the workers.

    While a fleet test of the same meter type (or of all types) runs, a second request gets that
    batch back (``already_running``) instead of queueing the fleet again."""
    scope = body.meter_type.value if body.meter_type is not None else "all"
    batch_id = str(uuid.uuid4())
    with redis_errors("start the fleet test"):
        running = work.claims.claim(scope, batch_id)
    if running is not None:
        record = queue.read_batch(running)
        if record is not None:
            return FleetModelTestAccepted(
                batch_id=running,
                meters=record["total"],
                task_ids={
                    (t.get("details") or {}).get("meter_id", t["task_id"]): t["task_id"]
                    for t in record["tasks"]
                },
                status_url=f"/test_model/all_models/{running}",
                already_running=True,
            )
    try:
        chosen = [m for m in models.list_models(body.meter_type) if not is_fleet_model(m)]
        if not chosen:
            raise InputDataError("no meter has a trained model; train some first (POST /trainmodel/batch/)")
        batch_id, task_ids = queue.enqueue_evaluation(
            [(m.meter_id, m.meter_type, m.version) for m in chosen], body.test_size, batch_id=batch_id
        )
    except BaseException:
        with redis_errors("release the fleet test"):
            work.claims.release(scope, batch_id)
        raise
    work.add(task_ids)
    return FleetModelTestAccepted(
        batch_id=batch_id,
        meters=len(chosen),
        task_ids={m.meter_id: t for m, t in zip(chosen, task_ids, strict=True)},
        status_url=f"/test_model/all_models/{batch_id}",
    )


def _meter_of(task: dict[str, Any]) -> str:
    return str((task.get("details") or {}).get("meter_id", task["task_id"]))


@router.get("/test_model/all_models/{batch_id}", response_model=FleetModelTestPublic)
def fleet_test_status(batch_id: BatchIdPath, queue: TaskQueueDep) -> dict[str, Any]:
    """Per-meter progress of a fleet test; the table and fleet medians once every task is done."""
    record = queue.read_evaluation(batch_id)
    if record is None:
        raise NotFoundError(f"fleet test {batch_id!r} is unknown or its records expired")
    return record


@router.post("/backtest/", response_model=BacktestPublic)
def backtest(
    body: BacktestRequest,
    store: SeriesStoreDep,
    models: ModelStoreDep,
    settings: SettingsDep,
    cache: ModelCacheDep,
) -> BacktestPublic:
    """Rolling-origin backtest over the last N days: per-hour records and model/baseline metrics
    (with each configured quantile's pinball loss and coverage, CRPS and rCRPS).

    One record per origin day and horizon hour: ``days x horizon_hours`` may not pass
    ``EF_LIMITS__BACKTEST_MAX_POINTS`` (8,760 by default, about 1.3 MB of JSON)."""
    limit = settings.limits.backtest_max_points
    if body.days * body.horizon_hours > limit:
        raise InputDataError(
            f"days x horizon_hours = {body.days * body.horizon_hours} records, over the limit of {limit} "
            "records per backtest (EF_LIMITS__BACKTEST_MAX_POINTS); ask for fewer days or a shorter horizon"
        )
    options = {"meter_type": body.meter_type, "horizon_hours": body.horizon_hours, "days": body.days}
    if body.group_id is not None:
        answer = backtest_group(
            store, model_store=models, group_id=body.group_id, levels=cache.levels, **options
        )
    else:
        assert body.meter_id is not None
        answer = backtest_meter(
            store, model_store=models, meter_id=body.meter_id, levels=cache.levels, **options
        )
    return BacktestPublic(**answer)
