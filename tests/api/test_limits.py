"""Limits over HTTP: rate limit 429 + Retry-After, body size 413 while streaming, rows, timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.api.ratelimit import MemoryTokenBucket
from energy_forecast.services.apikeys import ApiKeyStore
from energy_forecast.settings import Settings


def csv_rows(rows: int) -> bytes:
    """``rows`` consecutive hourly readings as a CSV body (about 26 bytes a row)."""
    stamps = (f"{2000 + h // 8760:04d}-01-01T00:00:00Z" for h in range(rows))
    return ("timestamp,consumption\n" + "".join(f"{s},1.5\n" for s in stamps)).encode()


def test_an_empty_bucket_answers_429_with_retry_after(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(rate_limit_per_s=0.5, rate_limit_burst=3)
    _, secret = ApiKeyStore(settings.api_keys_path).create("reader", ["read"])

    with TestClient(create_app(settings, start_tasks=False)) as client:
        statuses = [client.get("/meters/", headers={"X-API-Key": secret}).status_code for _ in range(4)]
        refused = client.get("/meters/", headers={"X-API-Key": secret})
        anonymous = client.get("/meters/")  # another bucket: the client address

    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "rate limit" in refused.json()["detail"]
    assert anonymous.status_code == 401  # charged to its own bucket, then refused for the missing key


def test_a_zero_rate_disables_the_limit(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(rate_limit_per_s=0, rate_limit_burst=1)

    with TestClient(create_app(settings, start_tasks=False)) as client:
        assert all(client.get("/meters/").status_code == 200 for _ in range(5))


def test_the_memory_bucket_refills_at_its_rate() -> None:
    bucket = MemoryTokenBucket(rate_per_s=1000.0, burst=1)

    async def run() -> list[bool]:
        first = await bucket.acquire("a")
        second = await bucket.acquire("a")
        await asyncio.sleep(0.01)
        third = await bucket.acquire("a")
        return [first.allowed, second.allowed, third.allowed]

    assert asyncio.run(run()) == [True, False, True]


def test_memory_buckets_stay_bounded_under_a_flood_from_many_addresses() -> None:
    now = [0.0]
    bucket = MemoryTokenBucket(rate_per_s=1.0, burst=2, max_buckets=1000, clock=lambda: now[0])

    async def run() -> list[bool]:
        limited = [(await bucket.acquire("ip:203.0.113.9")).allowed for _ in range(3)]
        sizes = []
        for i in range(20_000):  # one fresh X-Forwarded-For address per request
            now[0] += 0.0001
            await bucket.acquire(f"ip:10.4.{i // 256}.{i % 256}")
            sizes.append(len(bucket))
        assert max(sizes) <= 1000
        now[0] += 3.0  # every bucket is full again: the next prune drops them all
        for i in range(1000):
            await bucket.acquire(f"ip:10.9.{i // 256}.{i % 256}")
        return limited

    assert asyncio.run(run()) == [True, True, False]
    assert len(bucket) <= 1000


def test_a_limited_caller_stays_limited_while_stale_buckets_are_pruned() -> None:
    now = [0.0]
    bucket = MemoryTokenBucket(rate_per_s=1.0, burst=1, max_buckets=100, clock=lambda: now[0])

    async def run() -> tuple[bool, bool]:
        for i in range(99):
            await bucket.acquire(f"ip:old-{i}")
        now[0] += 5.0  # the 99 are full again (stale); the caller below is not
        first = await bucket.acquire("ip:caller")
        for i in range(10):  # reaches the bound: the stale ones go, the caller's empty bucket stays
            await bucket.acquire(f"ip:new-{i}")
        return first.allowed, (await bucket.acquire("ip:caller")).allowed

    assert asyncio.run(run()) == (True, False)
    assert len(bucket) <= 12


def test_a_declared_oversized_body_is_refused_before_reading(
    settings_factory: Callable[..., Settings],
) -> None:
    # 10^6 rows (about 30 MB) against the default 16 MiB limit.
    body = csv_rows(1_000_000)

    with TestClient(create_app(settings_factory(), start_tasks=False)) as client:
        response = client.post(
            "/meters/electricity/m1/readings", content=body, headers={"content-type": "text/csv"}
        )

    assert response.status_code == 413
    assert "EF_MAX_BODY_BYTES" in response.json()["detail"]


def test_a_million_rows_under_a_larger_body_limit_hit_the_row_limit(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(max_body_bytes=64 * 1024 * 1024)

    with TestClient(create_app(settings, start_tasks=False)) as client:
        response = client.post(
            "/meters/electricity/m1/readings",
            content=csv_rows(1_000_000),
            headers={"content-type": "text/csv"},
        )
        meters = client.get("/meters/").json()

    assert response.status_code == 422
    assert "1000000 rows exceed the limit of 500000" in response.json()["detail"]
    assert meters == []


def test_an_undeclared_stream_is_cut_off_at_the_limit(settings_factory: Callable[..., Settings]) -> None:
    """A chunked upload without Content-Length: we stop reading just past the limit."""
    settings = settings_factory(max_body_bytes=4 * 1024 * 1024)
    app = create_app(settings, start_tasks=False)
    chunk = b"2024-01-01T00:00:00Z,1.5\n" * 40_000  # 1 MB
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def endless_upload() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def collect(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/meters/electricity/m1/readings",
        "raw_path": b"/meters/electricity/m1/readings",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"text/csv"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    with TestClient(app) as client:
        assert client.portal is not None
        client.portal.call(app, scope, endless_upload, collect)

    assert sent[0]["status"] == 413
    assert pulled <= 5  # 4 MiB limit, 1 MB chunks: never the whole (endless) upload


def test_a_slow_request_answers_504_with_a_message(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(request_timeout=timedelta(seconds=1))
    app = create_app(settings, start_tasks=False)

    async def slow() -> dict[str, bool]:
        await asyncio.sleep(30)
        return {"done": True}

    app.add_api_route("/slow/", slow, methods=["GET"])

    with TestClient(app) as client:
        response = client.get("/slow/")
        quick = client.get("/meters/")

    assert response.status_code == 504
    assert "EF_REQUEST_TIMEOUT" in response.json()["detail"]
    assert quick.status_code == 200
