"""The FastAPI application factory: ``create_app(settings)`` wires adapters in a lifespan.

Domain errors are mapped to HTTP in ``api.errors`` and only there, each with a message that says
what to fix.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from energy_forecast import __version__
from energy_forecast.api.arrivals import open_arrival_alerts
from energy_forecast.api.cors import install_cors
from energy_forecast.api.errors import install_error_handlers
from energy_forecast.api.guards import ComputeGateMiddleware, NoSniffMiddleware
from energy_forecast.api.metrics import install_metrics
from energy_forecast.api.routes import alerts as alerts_route
from energy_forecast.api.routes import (
    bulk_import,
    forecasting,
    group_pages,
    groups,
    health,
    meters,
    models,
    publication,
    readings,
    schedule,
    training,
    weather,
)
from energy_forecast.api.routes import metrics as metrics_route
from energy_forecast.api.routes import peaks as peaks_route
from energy_forecast.api.routes import tariffs as tariffs_route
from energy_forecast.api.routes import tasks as tasks_route
from energy_forecast.api.routes.dashboard import locked_page, static_files
from energy_forecast.api.routes.dashboard import router as dashboard_router
from energy_forecast.api.routes.docs import install_docs
from energy_forecast.api.security import close_rate_limiter, install_security, use_redis_rate_limiter
from energy_forecast.api.streams import StreamGate, close_stream_reader, open_stream_reader
from energy_forecast.bootstrap import build_model_store, build_series_store, build_weather, start_task_runtime
from energy_forecast.home import prepare_home
from energy_forecast.logging import get_logger
from energy_forecast.services.forecast_cache import ModelCache
from energy_forecast.settings import Settings
from energy_forecast.storage.base import SeriesStore
from energy_forecast.tasks.monitor import TaskMonitor
from energy_forecast.tasks.publications import PublicationIndex
from energy_forecast.tasks.schedule_jobs import build_scheduler

log = get_logger(__name__)
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


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


def scheduler_in_serve(settings: Settings) -> bool:
    """The embedded install runs its scheduler in ``serve``; a shared Redis gets scheduler processes."""
    schedule = settings.schedule
    if not schedule.enabled:
        return False
    return schedule.in_serve if schedule.in_serve is not None else settings.redis_url is None


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
        prepare_home(settings)
        owned = store is None
        app.state.store = store if store is not None else build_series_store(settings)
        app.state.models = build_model_store(settings)
        app.state.forecast_models = ModelCache(levels=settings.forecast_quantiles)
        app.state.weather = build_weather(settings)
        runtime = None
        try:
            if start_tasks:
                runtime = start_task_runtime(settings, series_store=app.state.store, run_workers=run_workers)
                app.state.tasks = runtime.queue
                app.state.embedded_redis = runtime.embedded  # /health/ reports its server's state
                app.state.publications = PublicationIndex(runtime.queue.client)
                app.state.monitor = TaskMonitor(
                    runtime.queue,
                    runtime.redis_url or "",
                    heartbeat_timeout=settings.worker_heartbeat_timeout,
                )
                redis_url = runtime.embedded.url if runtime.embedded else settings.redis_url
                use_redis_rate_limiter(app, settings, redis_url)
                open_stream_reader(app, redis_url or "", settings.limits.max_streams)
                open_arrival_alerts(app, app.state.store, runtime.queue.client, settings.alerts)
                if scheduler_in_serve(settings):
                    app.state.scheduler = build_scheduler(
                        app.state.store,
                        app.state.models,
                        runtime.queue,
                        settings.schedule,
                        task_retention=settings.task_retention,
                        alerts=settings.alerts,
                    )
                    app.state.scheduler.start()
            log.info(
                "api_started",
                storage=settings.storage_backend,
                home=str(settings.home),
                redis="external" if settings.redis_url else "embedded",
                in_process_workers=bool(runtime and runtime.worker),
            )
            yield
        finally:
            scheduler, app.state.scheduler = getattr(app.state, "scheduler", None), None
            if scheduler is not None:
                scheduler.stop()
            await close_rate_limiter(app)
            await close_stream_reader(app)
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
        # Served by api/routes/docs.py with local assets instead of FastAPI's CDN-loading pages.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.stream_gate = StreamGate(settings.limits.streams_per_key, settings.limits.max_streams)
    install_error_handlers(app)
    app.add_middleware(ComputeGateMiddleware, limit=settings.limits.compute_concurrency)  # innermost
    install_security(app, settings, locked_page=locked_page)

    app.add_middleware(RequestIdMiddleware)
    # Outermost: preflights are answered before the key check, every other request passes it.
    install_cors(app, settings)
    app.add_middleware(NoSniffMiddleware)  # outermost: every answer, preflights and errors included

    app.include_router(health.router)
    app.include_router(meters.router)
    app.include_router(readings.router)
    app.include_router(bulk_import.router)
    app.include_router(training.router)
    app.include_router(forecasting.router)
    app.include_router(publication.router)
    app.include_router(schedule.router)
    app.include_router(models.router)
    app.include_router(weather.router)
    app.include_router(tasks_route.router)
    app.include_router(metrics_route.router)
    app.include_router(alerts_route.router)
    app.include_router(peaks_route.router)
    app.include_router(tariffs_route.router)
    app.include_router(groups.router)
    app.include_router(group_pages.router)
    app.include_router(dashboard_router)
    install_docs(app)  # before /static, which would shadow its assets
    app.mount("/static", static_files(), name="static")
    install_metrics(app)
    return app
