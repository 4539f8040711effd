"""Heavy reads are bounded: backtest size, concurrent model fits, cheap validation first; and every
answer carries ``X-Content-Type-Options: nosniff``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.api.guards import ComputeGateMiddleware
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.services import evaluation
from energy_forecast.services.apikeys import ApiKeyStore
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.conftest import hourly_series


def test_a_backtest_past_its_size_limit_is_refused_before_any_read(
    settings_factory: Callable[..., Settings],
) -> None:
    # The probe's maximal backtest: 365 days x 168 hours, 10 s of compute and 9.3 MB of JSON.
    with TestClient(create_app(settings_factory(), start_tasks=False)) as client:
        maximal = client.post(
            "/backtest/",
            json={"meter_id": "nowhere", "meter_type": "electricity", "days": 365, "horizon_hours": 168},
        )
        allowed = client.post(
            "/backtest/",
            json={"meter_id": "nowhere", "meter_type": "electricity", "days": 365, "horizon_hours": 24},
        )

    assert maximal.status_code == 422
    assert "61320 records" in maximal.json()["detail"] and "BACKTEST_MAX_POINTS" in maximal.json()["detail"]
    assert allowed.status_code == 404  # within the limit: on to the store, which has no such meter


def test_a_model_test_whose_test_part_cannot_reach_a_day_fails_before_building_features(
    settings_factory: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_factory()
    settings.home.mkdir(parents=True)
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters([Meter("b1", MeterType.ELECTRICITY, "s1")])
    store.write_readings(MeterType.ELECTRICITY, "b1", hourly_series(hours=24 * 30))

    def expensive(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("features were built for a split that cannot be tested")

    monkeypatch.setattr(evaluation, "training_frame", expensive)
    with TestClient(create_app(settings, store=store, start_tasks=False)) as client:
        response = client.post(
            "/test_model/", json={"meter_id": "b1", "meter_type": "electricity", "test_size": 0.01}
        )
    store.close()

    assert response.status_code == 422, response.text
    assert "leaves under 24" in response.json()["detail"]


async def _call(app: Any, path: str) -> tuple[int, dict[str, str]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": [], "query_string": b""}
    await app(scope, receive, send)
    start = sent[0]
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}


def test_compute_routes_beyond_the_concurrency_limit_get_429_with_retry_after() -> None:
    async def scenario() -> list[tuple[int, dict[str, str]]]:
        release = asyncio.Event()

        async def slow_app(scope: Any, receive: Any, send: Any) -> None:
            if scope["path"] == "/backtest/":
                await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

        gate = ComputeGateMiddleware(slow_app, limit=2)
        running = [asyncio.create_task(_call(gate, "/backtest/")) for _ in range(2)]
        await asyncio.sleep(0.05)
        refused = await _call(gate, "/test_model/")
        other_route = await _call(gate, "/forecast/")
        release.set()
        done = [await task for task in running]
        after = await _call(gate, "/backtest/")
        return [*done, refused, other_route, after]

    first, second, refused, other_route, after = asyncio.run(scenario())

    assert (first[0], second[0]) == (200, 200)
    assert refused[0] == 429 and int(refused[1]["retry-after"]) >= 1
    assert other_route[0] == 200  # only the routes that fit models are gated
    assert after[0] == 200  # the slots came back


def test_the_app_gates_compute_routes_with_its_setting(settings_factory: Callable[..., Settings]) -> None:
    app = create_app(settings_factory(limits={"compute_concurrency": 3}), start_tasks=False)

    gates = [m for m in app.user_middleware if m.cls is ComputeGateMiddleware]

    assert len(gates) == 1 and gates[0].kwargs == {"limit": 3}


def test_every_kind_of_answer_says_nosniff(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(
        cors_origins=["https://ops.example"], rate_limit_per_s=0.001, rate_limit_burst=6
    )
    _, key = ApiKeyStore(settings.api_keys_path).create("reader", ["read"])
    with TestClient(create_app(settings, start_tasks=False)) as client:
        answers = {
            "json": client.get("/health/live"),
            "page": client.get("/docs"),
            "static": client.get("/static/dashboard.css"),
            "unauthorised": client.get("/meters/"),
            "not-found": client.get("/meters/electricity/nope", headers={"X-API-Key": key}),
            "preflight": client.options(
                "/meters/",
                headers={"Origin": "https://ops.example", "Access-Control-Request-Method": "GET"},
            ),
            "too-large": client.post("/forecast/", content=b"x" * 70_000, headers={"X-API-Key": key}),
        }
        answers["rate-limited"] = next(
            r
            for r in (client.get("/meters/", headers={"X-API-Key": key}) for _ in range(10))
            if r.status_code == 429
        )

    for name, response in answers.items():
        assert response.headers.get("x-content-type-options") == "nosniff", name
