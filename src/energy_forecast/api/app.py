"""The FastAPI application factory: ``create_app(settings)`` wires adapters in a lifespan.

Domain errors are mapped to HTTP here and only here, each with a message that says what to fix.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from energy_forecast import __version__
from energy_forecast.api.metrics import install_metrics
from energy_forecast.api.routes import forecasting, health, meters, models, publication, training, weather
from energy_forecast.api.routes import metrics as metrics_route
from energy_forecast.api.routes import tasks as tasks_route
from energy_forecast.api.routes.dashboard import locked_page, static_files
from energy_forecast.api.routes.dashboard import router as dashboard_router
from energy_forecast.api.security import close_rate_limiter, install_security, use_redis_rate_limiter
from energy_forecast.bootstrap import build_model_store, build_series_store, build_weather, start_task_runtime
from energy_forecast.errors import (
    ConfigurationError,
    ConflictError,
    DataQualityError,
    EnergyForecastError,
    InputDataError,
    InvalidIdentifierError,
    NoDataFoundError,
    NotFoundError,
    QueueUnavailableError,
    StorageError,
    WeatherProviderError,
)
from energy_forecast.logging import get_logger
from energy_forecast.services.forecasting import ModelCache
from energy_forecast.settings import Settings
from energy_forecast.storage.base import SeriesStore
from energy_forecast.tasks.monitor import TaskMonitor
from energy_forecast.tasks.publications import PublicationIndex

log = get_logger(__name__)
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# Most specific first: the first matching class decides the status. NoDataFoundError stays a
# DataQualityError (a task files it as NO_DATA_FOUND) but answers 404: the meter or its readings
# are not there, which is not something the request body can fix.
ERROR_STATUS: list[tuple[type[EnergyForecastError], int]] = [
    (InvalidIdentifierError, 422),
    (NoDataFoundError, 404),
    (InputDataError, 422),
    (DataQualityError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (QueueUnavailableError, 503),
    (StorageError, 503),
    (WeatherProviderError, 502),
    (ConfigurationError, 500),
]


def status_for(exc: EnergyForecastError) -> int:
    for cls, status in ERROR_STATUS:
        if isinstance(exc, cls):
            return status
    return 500


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EnergyForecastError)
    status = status_for(exc)
    log.warning("request_failed", error=type(exc).__name__, status=status, message=exc.message)
    body: dict[str, object] = {
        "detail": exc.message,
        "error": type(exc).__name__,
        "error_type": exc.error_type.value,
    }
    for attr in ("source", "row", "meter_id", "provider"):
        value = getattr(exc, attr, None)
        if value is not None:
            body[attr] = value
    return JSONResponse(status_code=status, content=body)


class RequestIdMiddleware:
    """Bind a request id to every log line of a request and echo it in ``X-Request-ID``.

    A caller's id is kept when it is a short token (so a proxy's id links the logs), otherwise a new
    one is made: a header value must not be able to forge log fields or grow log lines. Plain ASGI:
    Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)


# The keys of an OpenAPI path item that are operations (others: summary, parameters, servers).
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def allowed_methods(app: FastAPI, path: str) -> set[str]:
    """The methods the OpenAPI schema declares for every path template that matches ``path``.

    Starlette's 405 names only the first matching route's methods, and FastAPI's included routers
    keep their routes out of ``app.router.routes``; the schema is the one public list of them all.
    """
    patterns: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "allow_patterns", None)
    if patterns is None:
        patterns = [
            (compile_path(template)[0], {key.upper() for key in operations if key in HTTP_METHODS})
            for template, operations in app.openapi().get("paths", {}).items()
        ]
        app.state.allow_patterns = patterns
    allowed: set[str] = set()
    for pattern, methods in patterns:
        if pattern.match(path):
            allowed |= methods
    return allowed


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answer, with a 405's ``Allow`` naming every method of the path (GET and POST /location/)."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        root = request.scope.get("root_path", "")
        path = request.scope["path"]
        allowed = allowed_methods(request.app, path[len(root) :] if root and path.startswith(root) else path)
        if allowed:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(sorted(allowed))}
    return await http_exception_handler(request, exc)


def create_app(
    settings: Settings,
    *,
    store: SeriesStore | None = None,
    start_tasks: bool = True,
    run_workers: bool | None = None,
) -> FastAPI:
    """Build the app; adapters are opened in the lifespan, never at import.

    ``store`` may be injected (tests). ``start_tasks=False`` serves without a task queue
    (training routes answer 503). ``run_workers`` overrides where workers run (see
    ``bootstrap.start_task_runtime``).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        app.state.store = store if store is not None else build_series_store(settings)
        app.state.models = build_model_store(settings)
        app.state.forecast_models = ModelCache()
        app.state.weather = build_weather(settings)
        runtime = None
        try:
            if start_tasks:
                runtime = start_task_runtime(settings, series_store=app.state.store, run_workers=run_workers)
                app.state.tasks = runtime.queue
                app.state.publications = PublicationIndex(runtime.queue.client)
                app.state.monitor = TaskMonitor(
                    runtime.queue,
                    runtime.redis_url or "",
                    heartbeat_timeout=settings.worker_heartbeat_timeout,
                )
                redis_url = runtime.embedded.url if runtime.embedded else settings.redis_url
                use_redis_rate_limiter(app, settings, redis_url)
            log.info(
                "api_started",
                storage=settings.storage_backend,
                home=str(settings.home),
                redis="external" if settings.redis_url else "embedded",
                in_process_workers=bool(runtime and runtime.worker),
            )
            yield
        finally:
            await close_rate_limiter(app)
            app.state.tasks = None
            app.state.publications = None
            monitor, app.state.monitor = getattr(app.state, "monitor", None), None
            if monitor is not None:
                monitor.close()
            if runtime is not None:
                runtime.close()
            app.state.weather.close()
            if owned:
                app.state.store.close()

    app = FastAPI(
        title="energy-forecast",
        version=__version__,
        description="Hourly electricity and water consumption forecasts per meter.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_exception_handler(EnergyForecastError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    install_security(app, settings, locked_page=locked_page)

    app.add_middleware(RequestIdMiddleware)

    app.include_router(health.router)
    app.include_router(meters.router)
    app.include_router(training.router)
    app.include_router(forecasting.router)
    app.include_router(publication.router)
    app.include_router(models.router)
    app.include_router(weather.router)
    app.include_router(tasks_route.router)
    app.include_router(metrics_route.router)
    app.include_router(dashboard_router)
    app.mount("/static", static_files(), name="static")
    install_metrics(app)
    return app
