"""Typed dependency aliases for routes.

The providers are ``async def`` although they only read ``app.state``: FastAPI runs a plain
``def`` dependency in the thread pool, one thread hop per dependency per request, which was the
largest part of a cached forecast's time outside the route itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from energy_forecast.errors import QueueUnavailableError
from energy_forecast.services.forecasting import ModelCache
from energy_forecast.settings import Settings
from energy_forecast.storage.base import ModelStore, SeriesStore
from energy_forecast.tasks.publications import PublicationIndex
from energy_forecast.tasks.queue import TaskQueue
from energy_forecast.weather.fallback import FallbackChain


async def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def _store(request: Request) -> SeriesStore:
    return request.app.state.store  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(_settings)]
SeriesStoreDep = Annotated[SeriesStore, Depends(_store)]


async def _task_queue(request: Request) -> TaskQueue:
    queue = getattr(request.app.state, "tasks", None)
    if queue is None:
        raise QueueUnavailableError("the task queue is not running in this process")
    return queue  # type: ignore[no-any-return]


TaskQueueDep = Annotated[TaskQueue, Depends(_task_queue)]


async def _model_store(request: Request) -> ModelStore:
    return request.app.state.models  # type: ignore[no-any-return]


async def _model_cache(request: Request) -> ModelCache:
    return request.app.state.forecast_models  # type: ignore[no-any-return]


ModelStoreDep = Annotated[ModelStore, Depends(_model_store)]
# Parsed model bundles, one cache per app: they outlive a request.
ModelCacheDep = Annotated[ModelCache, Depends(_model_cache)]


async def _weather(request: Request) -> FallbackChain:
    return request.app.state.weather.chain  # type: ignore[no-any-return]


# The provider chain built once in the lifespan (its HTTP client and cooldowns outlive a request).
WeatherDep = Annotated[FallbackChain, Depends(_weather)]


async def _publications(request: Request) -> PublicationIndex:
    index = getattr(request.app.state, "publications", None)
    if index is None:
        raise QueueUnavailableError("published forecasts are indexed in Redis; this process runs without it")
    return index  # type: ignore[no-any-return]


# The index of published forecasts in the task queue's Redis (tasks/publications.py).
PublicationsDep = Annotated[PublicationIndex, Depends(_publications)]
