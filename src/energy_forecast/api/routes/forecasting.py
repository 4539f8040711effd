"""Forecast, chronological model test, fleet test and rolling-origin backtest."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response
from pydantic_core import to_json

from energy_forecast.api.deps import ModelCacheDep, ModelStoreDep, SeriesStoreDep, WeatherDep
from energy_forecast.api.forecast_schemas import (
    AllModelsRequest,
    BacktestPublic,
    BacktestRequest,
    FleetModelTestPublic,
    ForecastPublic,
    ForecastRequest,
    ModelTestPublic,
    ModelTestRequest,
    ModelTestResultsPublic,
)
from energy_forecast.services.evaluation import backtest_meter, evaluate_fleet, evaluate_meter
from energy_forecast.services.forecast_cache import ModelCache, answer_version
from energy_forecast.services.forecast_points import ForecastPoint
from energy_forecast.services.forecasting import forecast_meter
from energy_forecast.services.weather import ProviderTemperature
from energy_forecast.storage.base import ModelStore, SeriesStore

router = APIRouter(tags=["forecasting"])


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
    }
    content.update((name, value) for name, value in optional.items() if value is not None)
    return content


@router.post("/test_model/", response_model=ModelTestPublic)
def test_model(body: ModelTestRequest, store: SeriesStoreDep, models: ModelStoreDep) -> ModelTestPublic:
    """Train on the first 1 - test_size of the history, score day-ahead on the rest."""
    result = evaluate_meter(
        store,
        meter_id=body.meter_id,
        meter_type=body.meter_type,
        test_size=body.test_size,
        model_store=models,
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


@router.post("/test_model/all_models/", response_model=FleetModelTestPublic)
def test_all_models(
    body: AllModelsRequest, store: SeriesStoreDep, models: ModelStoreDep
) -> FleetModelTestPublic:
    """The same test for every meter with an active model: a table and fleet medians."""
    return FleetModelTestPublic(
        **evaluate_fleet(store, models, meter_type=body.meter_type, test_size=body.test_size)
    )


@router.post("/backtest/", response_model=BacktestPublic)
def backtest(body: BacktestRequest, store: SeriesStoreDep, models: ModelStoreDep) -> BacktestPublic:
    """Rolling-origin backtest over the last N days: per-hour records and model/baseline metrics."""
    return BacktestPublic(
        **backtest_meter(
            store,
            model_store=models,
            meter_id=body.meter_id,
            meter_type=body.meter_type,
            horizon_hours=body.horizon_hours,
            days=body.days,
        )
    )
