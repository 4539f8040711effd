"""Prometheus metrics: HTTP metrics of this process plus task and model figures read at scrape time.

Request counters and latency histograms live in this process (one registry per app, labelled by
route template so ``/models/water/m1`` and ``/models/water/m2`` are one series). Task figures
come from Redis (``tasks/telemetry.py`` writes them in whichever process ran the task) and model
accuracy from the model store, both read by ``OpsCollector`` when Prometheus scrapes; a failing
source is left out of that scrape and reported through ``ef_scrape_source_up``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import redis
from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from energy_forecast.api.fleet_metrics import fleet_families
from energy_forecast.errors import EnergyForecastError
from energy_forecast.logging import get_logger
from energy_forecast.ml.alerts import RULES
from energy_forecast.services.alerts import active_counts
from energy_forecast.storage.base import ModelVersion
from energy_forecast.tasks.monitor import HistogramSnapshot, TaskMonitor

log = get_logger(__name__)

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TASK_EVENTS = {
    "enqueued": "Tasks sent to the queue (retries of the same task not counted again).",
    "succeeded": "Tasks that finished successfully.",
    "failed": "Tasks that failed for good (dead-lettered).",
    "retried": "Task attempts that failed and were scheduled for a retry.",
    "skipped": "Deliveries skipped: cancelled before running, or a duplicate of a finished task.",
}


class OpsCollector(Collector):
    """Reads task counters, queue depth, workers and model accuracy when scraped."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "ef_scrape_source_up", "1 when the source could be read during this scrape.", labels=["source"]
        )
        monitor: TaskMonitor | None = getattr(self.app.state, "monitor", None)
        if monitor is not None:
            try:
                families = list(_task_families(monitor))
            except EnergyForecastError as exc:
                log.warning("metrics_source_failed", source="redis", error=exc.message)
                up.add_metric(["redis"], 0)
            else:
                up.add_metric(["redis"], 1)
                yield from families
            try:
                fleet = list(fleet_families(monitor.client, self.app.state.settings, _scheduler(self.app)))
            except (redis.RedisError, EnergyForecastError) as exc:
                log.warning("metrics_source_failed", source="fleet", error=str(exc))
                up.add_metric(["fleet"], 0)
            else:
                up.add_metric(["fleet"], 1)
                yield from fleet
            try:
                counts = active_counts(monitor.client)
            except (redis.RedisError, EnergyForecastError, ValueError, KeyError) as exc:
                log.warning("metrics_source_failed", source="alerts", error=str(exc))
                up.add_metric(["alerts"], 0)
            else:
                up.add_metric(["alerts"], 1)
                yield _alerts_family(counts)
        models = getattr(self.app.state, "models", None)
        if models is not None:
            try:
                families = list(_model_families(models.list_models()))
            except (EnergyForecastError, OSError, ValueError) as exc:
                log.warning("metrics_source_failed", source="models", error=str(exc))
                up.add_metric(["models"], 0)
            else:
                up.add_metric(["models"], 1)
                yield from families
        yield up


def _alerts_family(counts: dict[tuple[str, str], int]) -> Metric:
    """Active alerts per meter type and rule, zeros included so an Alertmanager rule sees the series."""
    family = GaugeMetricFamily(
        "ef_alerts_active", "Alerts raised and not yet cleared.", labels=["meter_type", "rule"]
    )
    for meter_type in ("electricity", "water"):
        for rule in RULES:
            family.add_metric([meter_type, rule], counts.get((meter_type, rule), 0))
    return family


def _scheduler(app: FastAPI) -> object | None:
    return getattr(app.state, "scheduler", None)


def _histogram(name: str, doc: str, labels: list[str]) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, doc, labels=labels)


def _add(family: HistogramMetricFamily, labels: list[str], snapshot: HistogramSnapshot) -> None:
    family.add_metric(labels, buckets=list(snapshot.buckets), sum_value=snapshot.sum_seconds)


def _task_families(monitor: TaskMonitor) -> Iterator[Metric]:
    counters = monitor.task_counters()
    for event, doc in TASK_EVENTS.items():
        family = CounterMetricFamily(f"ef_tasks_{event}", doc, labels=["actor"])
        for (actor, seen), value in sorted(counters.items()):
            if seen == event:
                family.add_metric([actor], value)
        yield family
    durations = _histogram("ef_task_duration_seconds", "Wall time of task attempts.", ["actor"])
    for actor, snapshot in monitor.task_durations().items():
        _add(durations, [actor], snapshot)
    yield durations
    training = _histogram(
        "ef_training_duration_seconds", "Training time reported by successful training tasks.", []
    )
    _add(training, [], monitor.training_seconds())
    yield training
    depth = GaugeMetricFamily(
        "ef_queue_depth",
        "Messages per Dramatiq queue: waiting (q), delayed for retry (q.DQ), dead letters (q.XQ).",
        labels=["queue"],
    )
    for queue, count in monitor.queue_depths().items():
        depth.add_metric([queue], count)
    yield depth
    yield GaugeMetricFamily(
        "ef_workers_alive", "Workers with a heartbeat younger than the timeout.", value=len(monitor.workers())
    )


def _model_families(versions: list[ModelVersion]) -> Iterator[Metric]:
    cv_rmse = GaugeMetricFamily(
        "ef_model_cv_rmse_percent",
        "Hold-out CV(RMSE) of each meter's active model, in percent (lower is better).",
        labels=["meter_id", "meter_type"],
    )
    version_g = GaugeMetricFamily(
        "ef_model_version", "Active model version per meter.", labels=["meter_id", "meter_type"]
    )
    age = GaugeMetricFamily(
        "ef_model_age_seconds", "Seconds since the active model was saved.", labels=["meter_id", "meter_type"]
    )
    now = datetime.now(UTC)
    for v in versions:
        labels = [v.meter_id, v.meter_type.value]
        version_g.add_metric(labels, v.version)
        value = (v.metadata.get("metrics") or {}).get("cv_rmse_percent")
        if isinstance(value, int | float):
            cv_rmse.add_metric(labels, float(value))
        saved = v.created_at
        if saved:
            saved_at = datetime.fromisoformat(saved)
            if saved_at.tzinfo is None:
                saved_at = saved_at.replace(tzinfo=UTC)
            age.add_metric(labels, max(0.0, (now - saved_at).total_seconds()))
    yield cv_rmse
    yield version_g
    yield age


class RequestMetricsMiddleware:
    """Count requests and time them to the response headers, by route template.

    Plain ASGI: Starlette's ``BaseHTTPMiddleware`` costs a task and a stream per request.
    """

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The router stores the matched route in the scope it was given, which is this one.
            template = getattr(scope.get("route"), "path", None) or "unmatched"
            self.requests.labels(scope["method"], template, str(status)).inc()
            self.latency.labels(scope["method"], template).observe(time.perf_counter() - started)


def install_metrics(app: FastAPI) -> CollectorRegistry:
    """Give ``app`` its own registry, request middleware and the scrape-time collector."""
    registry = CollectorRegistry(auto_describe=True)
    requests = Counter(
        "ef_http_requests",
        "HTTP requests by method, route template and status code.",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "ef_http_request_duration_seconds",
        "Time to the response headers, by method and route template.",
        ["method", "route"],
        buckets=LATENCY_BUCKETS_S,
        registry=registry,
    )
    registry.register(OpsCollector(app))

    app.add_middleware(RequestMetricsMiddleware, requests=requests, latency=latency)
    app.state.metrics_registry = registry
    return registry
