"""The Redis token bucket against a real server: atomic across clients, refills, 429 through the app."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
import redis
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.api.ratelimit import RedisTokenBucket
from energy_forecast.settings import Settings

pytestmark = pytest.mark.integration


def test_two_processes_share_one_bucket_and_never_overspend(redis_url: str) -> None:
    identity = f"test-{uuid.uuid4().hex}"

    async def run() -> list[bool]:
        # Two clients stand for two API processes; 60 concurrent requests against a burst of 25.
        first = RedisTokenBucket.from_url(redis_url, rate_per_s=0.001, burst=25)
        second = RedisTokenBucket.from_url(redis_url, rate_per_s=0.001, burst=25)
        try:
            decisions = await asyncio.gather(*(bucket.acquire(identity) for bucket in [first, second] * 30))
            await first.client.delete(first.prefix + identity)
        finally:
            await first.aclose()
            await second.aclose()
        return [d.allowed for d in decisions]

    allowed = asyncio.run(run())

    assert sum(allowed) == 25


def test_a_bucket_refills_and_tells_when(redis_url: str) -> None:
    identity = f"test-{uuid.uuid4().hex}"

    async def run() -> tuple[bool, bool, float, bool]:
        bucket = RedisTokenBucket.from_url(redis_url, rate_per_s=20.0, burst=1)
        try:
            first = await bucket.acquire(identity)
            second = await bucket.acquire(identity)
            await asyncio.sleep(second.retry_after_s + 0.02)
            third = await bucket.acquire(identity)
            ttl = await bucket.client.pttl(bucket.prefix + identity)
        finally:
            await bucket.aclose()
        assert 0 < ttl <= 1050  # the key expires once the bucket would be full again
        return first.allowed, second.allowed, second.retry_after_s, third.allowed

    first, second, wait, third = asyncio.run(run())

    assert (first, second, third) == (True, False, True)
    assert 0 < wait <= 0.05


def test_an_unreachable_redis_limits_per_process_and_is_asked_again_only_after_a_pause() -> None:
    async def run() -> tuple[list[bool], int]:
        bucket = RedisTokenBucket.from_url("redis://127.0.0.1:1/0", rate_per_s=0.001, burst=2)
        calls = 0
        script = bucket._script

        async def counted(*args: object, **kwargs: object) -> object:
            nonlocal calls
            calls += 1
            return await script(*args, **kwargs)

        bucket._script = counted  # type: ignore[assignment]
        try:
            allowed = [(await bucket.acquire("x")).allowed for _ in range(4)]
            return allowed, calls
        finally:
            await bucket.aclose()

    allowed, redis_calls = asyncio.run(run())

    assert allowed == [True, True, False, False]  # the burst of 2, kept in memory during the outage
    assert redis_calls == 1  # the three requests after the failure did not wait for Redis again


def test_the_app_limits_through_redis(redis_url: str, settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(redis_url=redis_url, rate_limit_per_s=0.01, rate_limit_burst=2)
    app = create_app(settings, run_workers=False)
    with redis.Redis.from_url(redis_url) as plain:
        plain.delete("ratelimit:ip:testclient")  # TestClient's client address, from an earlier run

    with TestClient(app) as client:
        assert isinstance(app.state.rate_limiter, RedisTokenBucket)
        statuses = [client.get("/meters/").status_code for _ in range(3)]
        refused = client.get("/meters/")

    assert statuses == [200, 200, 429]
    assert int(refused.headers["retry-after"]) > 1
