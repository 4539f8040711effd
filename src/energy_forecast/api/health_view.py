"""What ``/health/`` shows to whom, and its check of the API's own capacity.

``/health/`` is open so that load balancers can probe it without a key. An anonymous caller of a
service that enforces keys sees the overall status and each check's status only: no bucket,
endpoint, host, pid, count or error text (the probe read them from a web page of another origin
through ``EF_CORS_ORIGINS='*'``). A caller with a valid key, and every caller of a loopback service
without keys (who can already do everything), gets the whole answer.

The ``capacity`` check reports the API's Redis pool and the open streams; when either is full it is
a ``warning``, which makes the service ``degraded``: task routes then wait for a connection.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from energy_forecast.api.security import keys_enforced, presented_key

# What an anonymous caller keeps of the body and of each check.
PUBLIC_FIELDS = ("status", "timestamp", "version", "services", "checks")
PUBLIC_CHECK_FIELDS = ("status", "latency_ms")


def pool_usage(pool: Any) -> tuple[int, int]:
    """(connections in use, pool size) of a redis-py pool, blocking or not."""
    size = int(pool.max_connections)
    if hasattr(pool, "_in_use_connections"):
        return len(pool._in_use_connections), size
    idle = sum(1 for c in list(getattr(pool.pool, "queue", ())) if c is not None)
    return len(getattr(pool, "_connections", ())) - idle, size


def capacity_check(request: Request) -> dict[str, Any]:
    """The API's Redis pool for task routes, and its streams (their own pool): full is a warning."""
    state = request.app.state
    queue = getattr(state, "tasks", None)
    if queue is None:
        return {"status": "disabled"}
    in_use, size = pool_usage(queue.client.connection_pool)
    gate = state.stream_gate
    body: dict[str, Any] = {
        "redis_pool": {"in_use": in_use, "size": size},
        "streams": {"open": gate.open_streams, "limit": gate.total},
    }
    full = [
        name
        for name, (used, limit) in {
            "redis_pool": (in_use, size),
            "streams": (gate.open_streams, gate.total),
        }.items()
        if used >= limit
    ]
    if full:
        body["status"] = "warning"
        body["detail"] = f"saturated: {', '.join(full)}; requests wait for a free connection or get 429"
    return body


def sees_details(request: Request) -> bool:
    """A caller with a valid key, or any caller while keys are not enforced."""
    settings = request.app.state.settings
    keys = getattr(request.app.state, "api_keys", None)
    if keys is None or not keys_enforced(settings, keys):
        return True
    text = presented_key(request.scope)
    try:
        return bool(text) and keys.verify(text) is not None
    except Exception:  # an unreadable key file: the anonymous answer, the access check logs it
        return False


def public_body(body: dict[str, Any]) -> dict[str, Any]:
    """The anonymous answer: statuses only."""
    kept = {k: body[k] for k in PUBLIC_FIELDS if k in body}
    kept["checks"] = {
        name: {k: check[k] for k in PUBLIC_CHECK_FIELDS if k in check}
        for name, check in body.get("checks", {}).items()
    }
    if "reason" in body:
        failing = [n for n, c in body.get("checks", {}).items() if c.get("status") == "error"]
        kept["reason"] = "failing: " + ", ".join(failing) + " (details need an API key)"
    return kept
