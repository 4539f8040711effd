"""Liveness and dependency checks."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from energy_forecast import __version__
from energy_forecast.api.deps import SeriesStoreDep, SettingsDep
from energy_forecast.errors import StorageError

router = APIRouter(tags=["health"])


@router.get("/health/")
def health(store: SeriesStoreDep, settings: SettingsDep) -> JSONResponse:
    """Service status with a real check of the time-series store."""
    checks: dict[str, dict[str, object]] = {}
    started = time.perf_counter()
    try:
        store.ping()
        checks["storage"] = {"status": "ok", "backend": settings.storage_backend}
    except StorageError as exc:
        checks["storage"] = {"status": "error", "backend": settings.storage_backend, "error": exc.message}
    checks["storage"]["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    healthy = all(c["status"] == "ok" for c in checks.values())
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "timestamp": datetime.now(UTC).isoformat(),
        "version": __version__,
        "services": {
            "api": "running",
            "storage": settings.storage_backend,
            "task_system": "dramatiq",
        },
        "checks": checks,
    }
    return JSONResponse(status_code=200 if healthy else 503, content=body)
