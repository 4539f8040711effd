"""Authentication and scopes over HTTP: the loopback rule, 401/403 messages, open paths, revocation."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.api.security import install_security, is_loopback, is_open, is_page, required_scope
from energy_forecast.errors import ConfigurationError
from energy_forecast.services.apikeys import ApiKeyStore
from energy_forecast.settings import Settings

TRAIN = {"meter_id": "m1", "meter_type": "electricity"}
FORECAST = {
    "meter_id": "m1",
    "meter_type": "electricity",
    "start_date": "2024-01-01",
    "end_date": "2024-01-02",
}


def keys_of(settings: Settings) -> ApiKeyStore:
    return ApiKeyStore(settings.api_keys_path)


def client_for(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, start_tasks=False))


def test_loopback_without_keys_serves_anonymous_requests(settings_factory: Callable[..., Settings]) -> None:
    with client_for(settings_factory()) as client:
        assert client.get("/meters/").status_code == 200


def test_once_a_key_exists_it_is_required_even_on_loopback(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()
    _, secret = keys_of(settings).create("reader", ["read"])

    with client_for(settings) as client:
        missing = client.get("/meters/")
        wrong = client.get("/meters/", headers={"X-API-Key": "ef_00000000_guess"})
        by_header = client.get("/meters/", headers={"X-API-Key": secret})
        by_bearer = client.get("/meters/", headers={"Authorization": f"Bearer {secret}"})

    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["detail"] and "apikey create" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 401 and "invalid or revoked" in wrong.json()["detail"]
    assert by_header.status_code == 200 and by_bearer.status_code == 200


def test_a_read_key_may_forecast_but_not_write(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()
    _, secret = keys_of(settings).create("reader", ["read"])
    headers = {"X-API-Key": secret}

    with client_for(settings) as client:
        forecast = client.post("/forecast/", json=FORECAST, headers=headers)
        train = client.post("/trainmodel/", json=TRAIN, headers=headers)
        upload = client.post("/meters/electricity/m1/readings", json=[], headers=headers)

    assert forecast.status_code == 404  # authorised; the meter simply does not exist
    assert train.status_code == 403 and upload.status_code == 403
    assert "needs 'write'" in train.json()["detail"] and "--scope write" in train.json()["detail"]


def test_a_write_key_may_write(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()
    _, secret = keys_of(settings).create("loader", ["write"])
    body = [{"timestamp": "2024-01-01T00:00:00Z", "consumption": 1.0}]

    with client_for(settings) as client:
        response = client.post("/meters/electricity/m1/readings", json=body, headers={"X-API-Key": secret})

    assert response.status_code == 201, response.text


def test_health_docs_and_schema_stay_open(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(auth_required=True)
    keys_of(settings).create("reader", ["read"])

    with client_for(settings) as client:
        paths = ("/health/", "/health/live", "/docs", "/openapi.json")
        statuses = [client.get(path).status_code for path in paths]

    assert statuses == [200, 200, 200, 200]


def test_without_a_locked_page_a_page_answers_json_401(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(auth_required=True)
    keys_of(settings).create("reader", ["read"])
    app = FastAPI()
    install_security(app, settings)  # no dashboard: nothing to render for a browser
    app.add_api_route("/", lambda: {"ok": True}, methods=["GET"])

    with TestClient(app) as client:
        response = client.get("/")

    assert response.status_code == 401
    assert "missing API key" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "page"),
    [
        ("GET", "/", True),
        ("HEAD", "/dashboard/meters/electricity/m1", True),
        ("GET", "/dashboard/tasks/abc", True),
        ("POST", "/", False),
        ("GET", "/meters/", False),
        ("GET", "/dashboardx", False),
        ("GET", "/static/dashboard.js", False),
    ],
)
def test_only_gets_of_dashboard_paths_are_pages(method: str, path: str, page: bool) -> None:
    assert is_page(method, path) is page


@pytest.mark.parametrize(
    ("path", "open_"),
    [
        ("/static/dashboard.js", True),
        ("/static/vendor/uplot/uPlot.min.css", True),
        ("/health/", True),
        ("/staticx", False),
        ("/static", False),
        ("/", False),
        ("/meters/", False),
    ],
)
def test_static_assets_are_open_like_health_and_docs(path: str, open_: bool) -> None:
    assert is_open(path) is open_


def test_a_revoked_key_is_refused_without_restart(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()
    store = keys_of(settings)
    record, secret = store.create("reader", ["read"])
    _, other = store.create("other", ["read"])

    with client_for(settings) as client:
        before = client.get("/meters/", headers={"X-API-Key": secret})
        ApiKeyStore(settings.api_keys_path).revoke(record.key_id)  # as `energy-forecast apikey revoke`
        after = client.get("/meters/", headers={"X-API-Key": secret})
        still = client.get("/meters/", headers={"X-API-Key": other})

    assert (before.status_code, after.status_code, still.status_code) == (200, 401, 200)


def test_routes_added_after_the_app_is_built_are_protected(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory()
    keys_of(settings).create("reader", ["read"])
    app = create_app(settings, start_tasks=False)
    app.add_api_route("/dashboard/", lambda: {"ok": True}, methods=["GET"])
    app.add_api_route("/later/", lambda: {"ok": True}, methods=["GET"])

    with TestClient(app) as client:
        page = client.get("/dashboard/")  # a page path: the locked page, and the route never runs
        api = client.get("/later/")

    assert page.status_code == 401 and "ok" not in page.text
    assert api.status_code == 401 and "missing API key" in api.json()["detail"]


def test_a_non_loopback_bind_without_keys_refuses_to_start(settings_factory: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigurationError, match="apikey create") as raised:
        create_app(settings_factory(host="0.0.0.0"), start_tasks=False)
    assert "not loopback" in raised.value.message


def test_a_non_loopback_bind_with_a_key_enforces_it(settings_factory: Callable[..., Settings]) -> None:
    settings = settings_factory(host="0.0.0.0")
    _, secret = keys_of(settings).create("reader", ["read"])

    with client_for(settings) as client:
        assert client.get("/meters/").status_code == 401
        assert client.get("/meters/", headers={"X-API-Key": secret}).status_code == 200


def test_serve_on_all_interfaces_without_keys_exits_with_how_to(tmp_path: Path) -> None:
    env = {"EF_HOME": str(tmp_path / "home"), "EF_CONFIG_DIR": str(tmp_path / "cfg"), "PATH": "/usr/bin:/bin"}

    done = subprocess.run(
        [sys.executable, "-m", "energy_forecast", "serve", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    assert "energy-forecast apikey create" in done.stderr
    assert "not loopback" in done.stderr


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        pytest.param("GET", "/meters/", "read", id="get"),
        pytest.param("HEAD", "/models/", "read", id="head"),
        pytest.param("POST", "/forecast/", "read", id="forecast-post-reads"),
        pytest.param("POST", "/backtest/", "read", id="backtest-post-reads"),
        pytest.param("POST", "/peaks/", "read", id="peaks-post-reads"),
        pytest.param("POST", "/cost/", "read", id="cost-post-reads"),
        pytest.param("PUT", "/tariffs/t1", "write", id="tariff-put"),
        pytest.param("POST", "/trainmodel/", "write", id="train"),
        pytest.param("POST", "/models/electricity/m1/activate/2", "write", id="activate"),
        pytest.param("DELETE", "/anything", "write", id="delete"),
    ],
)
def test_scope_follows_the_method_with_read_only_posts(method: str, path: str, scope: str) -> None:
    assert required_scope(method, path) == scope


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.org", False),
    ],
)
def test_only_loopback_addresses_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
