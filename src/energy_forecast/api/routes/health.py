"""Liveness and dependency checks: ``/health/live`` (the process answers), ``/health/`` (the service
and its dependencies) and ``/health/worker`` (the workers).

Every check runs on its own thread under one deadline, so a hung dependency is reported as a
timeout instead of holding the request: ``/health/`` answers within ``CHECK_DEADLINE`` whatever
the dependencies do. Redis is probed through the task monitor's client (1 s socket timeouts, no
retries). ``/health/`` is open (no key), so it answers from one result kept for ``CACHE_TTL``:
a flood of probes runs the checks at most once a second, and never queues pings beside an
import's writes. Its messages name no file-system path (the log keeps the full text). With the
scheduler enabled, ``/health/`` is also ``degraded`` when no scheduler holds the leader lease or
some meter's newest published forecast is older than twice ``EF_SCHEDULE__FORECAST_EVERY``,
and whenever the API's Redis pool or its streams are full (``capacity``). An anonymous caller of a
service that enforces keys gets statuses only (``api.health_view``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from energy_forecast import __version__
from energy_forecast.api.deps import ModelStoreDep, SeriesStoreDep, SettingsDep
from energy_forecast.api.health_view import capacity_check, public_body, sees_details
from energy_forecast.errors import EnergyForecastError, QueueUnavailableError
from energy_forecast.logging import get_logger, hide_paths
from energy_forecast.settings import Settings
from energy_forecast.tasks.lease import read_leader
from energy_forecast.tasks.monitor import TaskMonitor
from energy_forecast.tasks.publications import PublicationIndex

log = get_logger(__name__)

router = APIRouter(tags=["health"])

CHECK_DEADLINE = timedelta(seconds=1.5)
# Without these the service cannot answer at all; the others only degrade it.
CRITICAL = ("redis", "storage")
CACHE_TTL = timedelta(seconds=1)
_CACHE_LOCK = threading.Lock()


class CachedAnswer:
    """The last answer, reused for ``ttl``; callers arriving meanwhile wait for the one computation."""

    def __init__(self, ttl: timedelta = CACHE_TTL) -> None:
        self.ttl_s = ttl.total_seconds()
        self._lock = threading.Lock()
        self._value: tuple[int, dict[str, Any]] | None = None
        self._at = 0.0

    def get(
        self, compute: Callable[[], tuple[int, dict[str, Any]]], *, fresh: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """The kept answer, or a new one when it is older than ``ttl`` or ``fresh`` is asked for."""
        with self._lock:
            if fresh or self._value is None or time.monotonic() - self._at >= self.ttl_s:
                self._value = compute()
                self._at = time.monotonic()
            return self._value


def _health_cache(request: Request) -> CachedAnswer:
    with _CACHE_LOCK:
        cache = getattr(request.app.state, "health_cache", None)
        if cache is None:
            cache = request.app.state.health_cache = CachedAnswer()
        return cache


def _monitor(request: Request) -> TaskMonitor | None:
    return getattr(request.app.state, "monitor", None)


def _timed(check: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        result = {"status": "ok", **(check() or {})}
    except EnergyForecastError as exc:
        result = {"status": "error", "error": hide_paths(exc.message)}
        log.warning("health_check_failed", message=exc.message)
    except Exception as exc:  # a health check reports every failure; it must not raise
        result = {"status": "error", "error": hide_paths(f"{type(exc).__name__}: {exc}")}
        log.warning("health_check_failed", error=type(exc).__name__, message=str(exc))
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return result


def run_checks(
    checks: dict[str, Callable[[], dict[str, Any] | None]], deadline: timedelta = CHECK_DEADLINE
) -> dict[str, dict[str, Any]]:
    """Run checks concurrently; one still running at the deadline is reported as a timeout."""
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="ef-health")
    try:
        futures = {name: pool.submit(_timed, fn) for name, fn in checks.items()}
        wait(futures.values(), timeout=deadline.total_seconds())
        results: dict[str, dict[str, Any]] = {}
        for name, future in futures.items():
            if future.done():
                results[name] = future.result()
            else:
                results[name] = {
                    "status": "error",
                    "error": f"no answer within {deadline.total_seconds():g} s",
                    "latency_ms": deadline.total_seconds() * 1000,
                }
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a hung check ends on its own timeout


def overall_status(checks: dict[str, dict[str, Any]]) -> str:
    """unhealthy when a critical check errs, degraded when any other is not ok, else healthy."""
    if any(checks[name]["status"] == "error" for name in CRITICAL if name in checks):
        return "unhealthy"
    if any(c["status"] not in ("ok", "disabled") for c in checks.values()):
        return "degraded"
    return "healthy"


@router.get("/health/live")
def live() -> dict[str, str]:
    """Liveness: the process answers HTTP. No dependency is checked (that is ``/health/``), so an
    orchestrator restarts the API only when the API itself is stuck, not when Redis is."""
    return {"status": "alive", "version": __version__}


@router.get("/health/")
def health(
    request: Request, store: SeriesStoreDep, models: ModelStoreDep, settings: SettingsDep
) -> JSONResponse:
    """Service status with bounded checks of Redis, the time-series store and the model directory
    (run at most once per ``CACHE_TTL``; callers meanwhile get the same answer). A dead embedded
    redis-server is named at once: its supervisor knows without a ping, so the kept answer is not used."""
    embedded = getattr(request.app.state, "embedded_redis", None)
    fresh = embedded is not None and not embedded.status().running
    status_code, body = _health_cache(request).get(
        lambda: _check_health(request, store, models, settings), fresh=fresh
    )
    return JSONResponse(status_code=status_code, content=body if sees_details(request) else public_body(body))


def _check_health(
    request: Request, store: SeriesStoreDep, models: ModelStoreDep, settings: SettingsDep
) -> tuple[int, dict[str, Any]]:
    monitor = _monitor(request)
    mode = "external" if settings.redis_url else "embedded"

    embedded = getattr(request.app.state, "embedded_redis", None)

    def redis_check() -> dict[str, Any]:
        if monitor is None:
            return {"status": "disabled", "detail": "this process runs without a task queue"}
        server: dict[str, Any] = {}
        if embedded is not None:
            # The supervisor knows the moment the server dies, before any ping could time out.
            state = embedded.status()
            if not state.running:
                raise QueueUnavailableError(state.detail or "the embedded redis-server is not running")
            server = {"pid": state.pid, "restarts": state.restarts, "appendfsync": state.appendfsync}
        return {"mode": mode, "round_trip_ms": round(monitor.ping(), 2), **server}

    def workers_check() -> dict[str, Any]:
        if monitor is None:
            return {"status": "disabled"}
        count = len(monitor.workers())
        if count == 0:
            return {"status": "warning", "count": 0, "detail": "no live worker: tasks wait in the queue"}
        return {"count": count}

    def scheduler_check() -> dict[str, Any]:
        if monitor is None or not settings.schedule.enabled:
            return {"status": "disabled"}
        leader = read_leader(monitor.client)
        if leader is None:
            return {
                "status": "warning",
                "detail": "no scheduler holds the lease: nothing is trained or published unattended; "
                "run `energy-forecast scheduler` (or serve without REDIS_URL)",
            }
        return {"leader": {k: leader.get(k) for k in ("host", "pid", "lease_ms_left")}}

    def forecasts_check() -> dict[str, Any]:
        if monitor is None or not settings.schedule.enabled:
            return {"status": "disabled"}
        limit = 2 * settings.schedule.forecast_every.total_seconds()
        fresh = PublicationIndex(monitor.client).freshness(limit)
        body: dict[str, Any] = {
            "published_meters": fresh.published_meters,
            "oldest_age_seconds": fresh.oldest_age_s,
            "stale_meters": fresh.older_than,
        }
        if fresh.older_than:
            body["status"] = "warning"
            body["detail"] = f"{fresh.older_than} meters' published forecasts are older than {limit:g} s"
        return body

    checks = run_checks(
        {
            "redis": redis_check,
            "scheduler": scheduler_check,
            "published_forecasts": forecasts_check,
            "storage": lambda: (store.ping(), {"backend": settings.storage_backend})[1],
            "model_directory": lambda: (models.ping(), _model_location(settings))[1],
            "workers": workers_check,
            "capacity": lambda: capacity_check(request),
        }
    )
    status = overall_status(checks)
    redis_state = checks["redis"]["status"]
    body = {
        "status": status,
        "timestamp": datetime.now(UTC).isoformat(),
        "version": __version__,
        "services": {
            "api": "running",
            "redis": {"ok": "connected", "disabled": "disabled"}.get(redis_state, "disconnected"),
            "storage": settings.storage_backend,
            "task_system": "dramatiq",
        },
        "checks": checks,
    }
    if status == "unhealthy":
        body["reason"] = "; ".join(
            f"{name}: {checks[name]['error']}" for name in CRITICAL if checks[name]["status"] == "error"
        )
    return 503 if status == "unhealthy" else 200, body


@router.get("/health/worker")
def worker_health(request: Request) -> JSONResponse:
    """Workers seen through their heartbeats, Redis client count and queue lengths."""
    monitor = _monitor(request)
    now = datetime.now(UTC).isoformat()
    if monitor is None:
        body = {
            "worker_status": "disabled",
            "task_system": "dramatiq",
            "timestamp": now,
            "detail": "this process runs without a task queue",
        }
        return JSONResponse(status_code=503, content=body)

    def live() -> dict[str, Any]:
        return {
            "workers": monitor.workers(),
            "redis_clients": monitor.client_count(),
            "queues": monitor.queue_depths(),
        }

    result = run_checks({"live": live})["live"]
    if result["status"] != "ok":
        body = {
            "worker_status": "unknown",
            "task_system": "dramatiq",
            "timestamp": now,
            "error": result["error"],
        }
        return JSONResponse(status_code=503, content=body)
    workers = result["workers"]
    body = {
        "worker_status": "running" if workers else "no_workers",
        "worker_count": len(workers),
        "worker_threads": sum(int(w.get("threads") or 0) for w in workers),
        "redis_clients": result["redis_clients"],
        "task_system": "dramatiq",
        "timestamp": now,
        "queues": result["queues"],
        "workers": workers,
    }
    return JSONResponse(status_code=200, content=body)


def _model_location(settings: Settings) -> dict[str, str]:
    """Where models live: the S3 URL and endpoint, or the file store (never a credential or a path)."""
    if settings.model_store_url:
        return {
            "backend": "s3",
            "url": settings.model_store_url,
            "endpoint": settings.s3_endpoint_url or "AWS S3",
        }
    return {"backend": "file"}
