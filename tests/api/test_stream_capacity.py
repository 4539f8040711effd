"""Streams cannot starve the API: the probe's 21 streams that took every task route down, at 200.

Streams read on a Redis pool of their own without a thread; beyond the per-key and global caps a
new stream is refused with 429 and ``Retry-After``; task routes keep answering; ``/health/`` shows
the saturation. Also: ``Last-Event-ID`` past Redis's id range is a 400.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.api.streams import StreamGate
from energy_forecast.services.apikeys import ApiKeyStore
from energy_forecast.settings import Settings, load_settings
from tests.api.live_server import served


@pytest.fixture
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ef-"))  # short: the embedded Redis socket lives here
    yield path
    shutil.rmtree(path, ignore_errors=True)


def stream_settings(home: Path, **limits: int) -> Settings:
    return load_settings(
        home=home,
        rate_limit_per_s=0,  # the caps are under test, not the rate limit
        stream_max_duration="PT20S",
        weather={"providers": []},
        schedule={"enabled": False},
        limits=limits,
    )


async def probe(url: str, reader: str, writer: str, streams: int) -> dict[str, Any]:
    """Open ``streams`` streams with one key, then train and list tasks with another meanwhile."""
    limits = httpx.Limits(max_connections=streams + 50, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        task_id = (
            await client.post(
                "/trainmodel/", json={"meter_id": "held", "meter_type": "electricity"}, headers=writer
            )
        ).json()["task_id"]
        async with AsyncExitStack() as stack:
            opened = await asyncio.gather(
                *(
                    stack.enter_async_context(
                        client.stream("GET", f"/trainmodel/stream/{task_id}", headers=reader)
                    )
                    for _ in range(streams)
                )
            )
            task_routes = await asyncio.gather(
                *(
                    client.post(
                        "/trainmodel/",
                        json={"meter_id": f"m{i}", "meter_type": "electricity"},
                        headers=writer,
                    )
                    for i in range(20)
                ),
                *(client.get("/trainmodel/active_task", headers=writer) for _ in range(20)),
            )
            health = (await client.get("/health/", headers=writer)).json()
            refused = next((r for r in opened if r.status_code == 429), None)
            retry_after = refused.headers.get("retry-after") if refused is not None else None
            other_key = await client.get(f"/trainmodel/status/{task_id}", headers=writer)
        return {
            "streams": Counter(r.status_code for r in opened),
            "retry_after": retry_after,
            "task_routes": Counter(r.status_code for r in task_routes),
            "health": health,
            "other_key": other_key.status_code,
        }


def test_200_streams_from_one_key_leave_the_task_routes_of_another_key_answering(home: Path) -> None:
    # Caps raised above the defaults so that 150 streams are really open at once, 7x the old pool.
    settings = stream_settings(home, streams_per_key=150, max_streams=180)
    keys = ApiKeyStore(settings.api_keys_path)
    _, reader = keys.create("dashboard", ["read"])
    _, writer = keys.create("loader", ["write"])
    app = create_app(settings, run_workers=False)

    with served(app) as url:
        result = asyncio.run(probe(url, {"X-API-Key": reader}, {"X-API-Key": writer}, streams=200))

    assert result["streams"] == {200: 150, 429: 50}
    assert result["retry_after"] is not None and int(result["retry_after"]) >= 1
    assert result["task_routes"] == {200: 40}  # not a single 503
    assert result["other_key"] == 200
    capacity = result["health"]["checks"]["capacity"]
    assert capacity["streams"] == {"open": 150, "limit": 180}
    assert capacity["redis_pool"]["in_use"] < capacity["redis_pool"]["size"]


def test_the_global_cap_refuses_every_key_and_a_full_house_is_degraded(home: Path) -> None:
    settings = stream_settings(home, streams_per_key=10, max_streams=12)
    keys = ApiKeyStore(settings.api_keys_path)
    reader = {"X-API-Key": keys.create("dashboard", ["read"])[1]}
    writer = {"X-API-Key": keys.create("loader", ["write"])[1]}
    app = create_app(settings, run_workers=False)

    async def scenario(url: str) -> tuple[Counter[int], list[int], dict[str, Any]]:
        limits = httpx.Limits(max_connections=80, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
            post = await client.post(
                "/trainmodel/", json={"meter_id": "held", "meter_type": "electricity"}, headers=writer
            )
            path = f"/trainmodel/stream/{post.json()['task_id']}"
            async with AsyncExitStack() as stack:
                first = await asyncio.gather(
                    *(
                        stack.enter_async_context(client.stream("GET", path, headers=reader))
                        for _ in range(12)
                    )
                )
                others = [
                    (await stack.enter_async_context(client.stream("GET", path, headers=writer))).status_code
                    for _ in range(3)
                ]
                health = (await client.get("/health/", headers=writer)).json()
            return Counter(r.status_code for r in first), others, health

    with served(app) as url:
        first, others, health = asyncio.run(scenario(url))

    assert first == {200: 10, 429: 2}  # the per-key cap
    assert others == [200, 200, 429]  # another key gets the two left, then the global cap holds
    assert health["status"] == "degraded"
    assert health["checks"]["capacity"]["status"] == "warning"


def test_a_stream_gate_counts_per_key_and_in_all() -> None:
    gate = StreamGate(per_key=2, total=3)
    gate.admit("key:a")
    gate.admit("key:a")
    with pytest.raises(Exception) as per_key:
        gate.admit("key:a")
    gate.admit("key:b")
    with pytest.raises(Exception) as total:
        gate.admit("key:c")
    gate.release("key:a")
    gate.admit("key:c")

    assert per_key.value.status_code == 429 and "STREAMS_PER_KEY" in per_key.value.detail  # type: ignore[attr-defined]
    assert total.value.headers["Retry-After"]  # type: ignore[attr-defined]
    assert gate.open_streams == 3


@pytest.mark.parametrize(
    ("last_event_id", "status"),
    [
        ("99999999999999999999-0", 400),
        ("0-99999999999999999999", 400),
        ("18446744073709551616-0", 400),
        ("18446744073709551615-18446744073709551615", 200),
    ],
)
def test_a_last_event_id_past_redis_stream_ids_is_a_400(home: Path, last_event_id: str, status: int) -> None:
    settings = stream_settings(home)
    settings.stream_max_duration = settings.stream_max_duration / 20  # one second
    with TestClient(create_app(settings, run_workers=False)) as client:
        task_id = client.post("/trainmodel/", json={"meter_id": "m1", "meter_type": "electricity"}).json()[
            "task_id"
        ]
        response = client.get(f"/trainmodel/stream/{task_id}", headers={"Last-Event-ID": last_event_id})

    assert response.status_code == status, response.text
    if status == 400:
        assert "out of range" in response.json()["detail"]
