"""What the second attacker's probe found, each as a test: health answers, the key-file rule, body
limits and short error bodies, redirects, WebSockets, and a private home."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from energy_forecast.api.app import create_app
from energy_forecast.services.apikeys import ApiKeyStore
from energy_forecast.settings import Settings

LOCATION = {"site_id": "s1", "latitude": 52.0, "longitude": 4.0, "timezone": "UTC"}
FORECAST = {
    "meter_id": "m1",
    "meter_type": "electricity",
    "start_date": "2024-01-01",
    "end_date": "2024-01-02",
}


def logged(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    """What was logged: structlog prints unless an earlier test left it bound to the stdlib."""
    return "".join(capsys.readouterr()) + caplog.text


def client_for(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, start_tasks=False))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- /health/ ---------------------------------------------------------------------------------


def test_health_names_no_path_and_reuses_its_answer_for_a_second(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory()
    settings.home.mkdir(parents=True)
    settings.models_dir.write_text("a file where the model directory should be")

    with client_for(settings) as client:
        first, second = client.get("/health/"), client.get("/health/")

    assert first.json()["checks"]["model_directory"]["status"] == "error"
    assert str(settings.home) not in first.text and str(settings.home.parent) not in first.text
    assert "not writable" in first.json()["checks"]["model_directory"]["error"]
    assert first.json()["timestamp"] == second.json()["timestamp"]  # one check run for both


def test_health_is_open_but_rate_limited_like_any_anonymous_client(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(rate_limit_per_s=0.01, rate_limit_burst=3)
    ApiKeyStore(settings.api_keys_path).create("reader", ["read"])

    with client_for(settings) as client:
        statuses = [client.get("/health/").status_code for _ in range(5)]
        live = client.get("/health/live")

    assert statuses == [200, 200, 200, 429, 429]
    assert live.status_code == 200  # liveness stays unlimited: it touches nothing


# -- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth_required", [None, False], ids=["unset", "explicitly-false"])
def test_revoking_every_key_keeps_keys_required(
    settings_factory: Callable[..., Settings],
    auth_required: bool | None,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    overrides = {} if auth_required is None else {"auth_required": auth_required}
    settings = settings_factory(**overrides)
    keys = ApiKeyStore(settings.api_keys_path)
    record, secret = keys.create("loader", ["write"])
    keys.revoke(record.key_id)

    with client_for(settings) as client:
        anonymous_write = client.post("/location/", json=LOCATION)
        anonymous_read = client.get("/meters/")
        revoked = client.post("/location/", json=LOCATION, headers={"X-API-Key": secret})

    assert anonymous_write.status_code == 401 and "missing API key" in anonymous_write.json()["detail"]
    assert anonymous_read.status_code == 401
    assert revoked.status_code == 401
    warned = "auth_required_false_ignored" in logged(capsys, caplog)
    assert warned is (auth_required is False)


def test_deleting_the_key_file_is_the_way_back_to_anonymous_loopback(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory()
    keys = ApiKeyStore(settings.api_keys_path)
    record, _ = keys.create("loader", ["write"])
    keys.revoke(record.key_id)

    with client_for(settings) as client:
        locked = client.get("/meters/").status_code
        settings.api_keys_path.unlink()
        opened = client.get("/meters/").status_code

    assert (locked, opened) == (401, 200)


def test_provider_backed_temperature_series_needs_write_scope(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory()
    _, reader = ApiKeyStore(settings.api_keys_path).create("reader", ["read"])

    with client_for(settings) as client:
        response = client.post(
            "/temperature/series/",
            json={"start_date": "2024-01-01", "end_date": "2024-01-02"},
            headers={"X-API-Key": reader},
        )

    assert response.status_code == 403 and "needs 'write'" in response.json()["detail"]


def test_websocket_connections_are_closed_before_any_route(settings_factory: Callable[..., Settings]) -> None:
    with (
        client_for(settings_factory()) as client,
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/meters/"),
    ):
        pass

    assert closed.value.code == 1008


# -- bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/forecast/",
        "/test_model/",
        "/test_model/all_models/",
        "/backtest/",
        "/trainmodel/",
        "/trainmodel/v2/",
        "/location/",
        "/temperature/series/",
    ],
)
def test_json_request_routes_refuse_bodies_over_64_kb(
    settings_factory: Callable[..., Settings], path: str
) -> None:
    body = b"[" + b"1," * 40_000 + b"1]"  # 80 KB

    with client_for(settings_factory()) as client:
        response = client.post(path, content=body, headers={"content-type": "application/json"})

    assert response.status_code == 413, response.text
    assert "65536 bytes" in response.json()["detail"] and path in response.json()["detail"]


def test_a_10_mb_array_to_forecast_answers_413_with_a_short_body(
    settings_factory: Callable[..., Settings],
) -> None:
    body = b"[" + b"1," * (5 * 1024 * 1024) + b"1]"
    settings = settings_factory()
    _, reader = ApiKeyStore(settings.api_keys_path).create("reader", ["read"])

    with client_for(settings) as client:
        response = client.post(
            "/forecast/", content=body, headers={"content-type": "application/json", "X-API-Key": reader}
        )

    assert response.status_code == 413 and len(response.content) < 500


def test_a_422_quotes_only_a_short_excerpt_of_the_input(settings_factory: Callable[..., Settings]) -> None:
    huge = {**FORECAST, "meter_id": "x" * 50_000}
    nested: object = 1
    for _ in range(900):
        nested = [nested]

    with client_for(settings_factory()) as client:
        long_string = client.post("/forecast/", json=huge)
        deep = client.post("/backtest/", json={"meter_id": nested, "meter_type": "electricity"})

    for response in (long_string, deep):
        assert response.status_code == 422, response.text
        assert len(response.content) < 2000
        assert response.json()["detail"][0]["msg"]
    assert "…" in long_string.json()["detail"][0]["input"]


# -- redirects and the home -------------------------------------------------------------------


def test_a_slash_redirect_never_points_at_the_host_header(settings_factory: Callable[..., Settings]) -> None:
    with client_for(settings_factory()) as client:
        response = client.get("/health", headers={"Host": "evil.example"}, follow_redirects=False)

    assert response.status_code in {307, 308}
    assert response.headers["location"] == "/health/"


def test_a_fresh_home_is_private(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()

    with client_for(settings) as client:
        client.post(
            "/meters/electricity/m1/readings", json=[{"timestamp": "2024-01-01T00:00:00Z", "consumption": 1}]
        )

    assert mode(settings.home) == 0o700 and mode(settings.duckdb_path) == 0o600
    for directory in (settings.models_dir, settings.logs_dir, settings.api_keys_path.parent):
        assert mode(directory) == 0o700, directory


def test_a_loose_home_is_tightened_at_start_with_a_log_line(
    settings_factory: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = settings_factory()
    for directory in (settings.home, settings.models_dir, settings.embedded_redis_dir):
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
    (settings.embedded_redis_dir / "redis.rdb").write_bytes(b"")
    (settings.embedded_redis_dir / "redis.rdb").chmod(0o644)

    with client_for(settings):
        pass

    assert mode(settings.home) == 0o700 and mode(settings.models_dir) == 0o700
    assert mode(settings.embedded_redis_dir) == 0o700
    assert mode(settings.embedded_redis_dir / "redis.rdb") == 0o600
    line = next(x for x in logged(capsys, caplog).splitlines() if "home_permissions_tightened" in x)
    assert "models" in line and "redis/redis.rdb" in line
