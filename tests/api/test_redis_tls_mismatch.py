"""A ``rediss://`` REDIS_URL pointed at the plain test Redis: the TLS handshake never completes.

It used to hold an enqueue for ~21 s (two attempts, each handshake under the 10 s command timeout).
Now the handshake is bounded by the connect timeout, and the answer is a 503 that names Redis, says
TLS is the likely cause, and never shows the URL's password. The bound asserted here is loose (10 s):
the point is "no long hang", not a benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.settings import Settings
from energy_forecast.tasks.broker import (
    API_CONNECT_TIMEOUT_S,
    HandshakeTimeoutSSLConnection,
    connection_pool,
    describe_redis_error,
)

pytestmark = pytest.mark.integration

PASSWORD = "hunter2-not-shown"
PROMPT_S = 10.0


def as_tls(redis_url: str) -> str:
    """The plain server's URL, as if it spoke TLS, with a password that must never be echoed."""
    assert redis_url.startswith("redis://")
    return "rediss://:" + PASSWORD + "@" + redis_url.removeprefix("redis://")


def test_enqueue_answers_503_naming_redis_and_tls_promptly(
    redis_url: str, settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(redis_url=as_tls(redis_url), rate_limit_per_s=0)
    with TestClient(create_app(settings, run_workers=False)) as client:
        started = time.monotonic()
        response = client.post("/trainmodel/", json={"meter_id": "b1", "meter_type": "electricity"})
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    body = response.json()
    assert body["error"] == "QueueUnavailableError" and body["error_type"] == "CONNECTION_ERROR"
    # The first Redis call of an enqueue counts the caller's queued tasks (their cap).
    assert "cannot enqueue" in body["detail"] and "the task queue (Redis) is unreachable" in body["detail"]
    assert "rediss://" in body["detail"] and "use redis:// for a plain Redis" in body["detail"]
    assert PASSWORD not in response.text
    assert elapsed < PROMPT_S, f"enqueue took {elapsed:.1f} s"


def test_health_names_the_tls_mismatch(redis_url: str, settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(redis_url=as_tls(redis_url), rate_limit_per_s=0)
    with TestClient(create_app(settings, run_workers=False)) as client:
        response = client.get("/health/")

    assert response.status_code == 503
    check = response.json()["checks"]["redis"]
    assert check["status"] == "error" and "enable TLS on the server" in check["error"]
    assert PASSWORD not in response.text


def test_the_handshake_is_bounded_by_the_connect_timeout(redis_url: str) -> None:
    pool = connection_pool(as_tls(redis_url))
    client = redis.Redis(connection_pool=pool)
    try:
        started = time.monotonic()
        with pytest.raises(redis.TimeoutError) as caught:
            client.ping()
        elapsed = time.monotonic() - started
    finally:
        client.close()

    assert pool.connection_class is HandshakeTimeoutSSLConnection
    assert pool.connection_kwargs["socket_connect_timeout"] == API_CONNECT_TIMEOUT_S
    assert pool.connection_kwargs["socket_timeout"] == 10  # commands (and SSE's 5 s blocks) keep theirs
    assert elapsed < PROMPT_S, f"ping took {elapsed:.1f} s"
    assert "enable TLS on the server" in describe_redis_error(caught.value, tls=True)


def test_plain_redis_errors_get_no_tls_hint_and_no_password() -> None:
    refused = redis.ConnectionError("Error 111 connecting to redis://:s3cret@10.0.0.1:6379/0.")

    text = describe_redis_error(refused, tls=False)

    assert "s3cret" not in text and "redis://:***@10.0.0.1" in text and "TLS" not in text
