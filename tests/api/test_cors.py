"""CORS is opt-in: exact origins only, preflights answered, the API key still checked on real requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.errors import ConfigurationError
from energy_forecast.services.apikeys import ApiKeyStore
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

OPS = "http://ops.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "x-api-key,content-type",
}


@pytest.fixture
def make_client(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> Iterator[Callable[..., TestClient]]:
    opened: list[tuple[TestClient, DuckDBSeriesStore]] = []

    def make(**overrides: object) -> TestClient:
        store = DuckDBSeriesStore(tmp_path / f"s{len(opened)}.duckdb")
        client = TestClient(create_app(settings_factory(**overrides), store=store, start_tasks=False))
        client.__enter__()
        opened.append((client, store))
        return client

    yield make
    for client, store in opened:
        client.__exit__(None, None, None)
        store.close()


def cors_headers(response: object) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}  # type: ignore[attr-defined]


def test_without_origins_no_answer_carries_cors_headers(make_client: Callable[..., TestClient]) -> None:
    client = make_client()

    preflight = client.options("/forecast/", headers={"Origin": OPS, **PREFLIGHT})
    plain = client.get("/meters/", headers={"Origin": OPS})
    error = client.get("/no-such-path/", headers={"Origin": OPS})

    assert [cors_headers(r) for r in (preflight, plain, error)] == [{}, {}, {}]


def test_a_listed_origin_may_preflight_with_the_key_header_and_another_may_not(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(cors_origins=f'["{OPS}"]')

    allowed = client.options("/trainmodel/", headers={"Origin": OPS, **PREFLIGHT})
    refused = client.options("/trainmodel/", headers={"Origin": "http://evil.example", **PREFLIGHT})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == OPS
    assert "x-api-key" in allowed.headers["access-control-allow-headers"].lower()
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_the_key_still_guards_requests_from_an_allowed_origin(
    make_client: Callable[..., TestClient], settings_factory: Callable[..., Settings]
) -> None:
    settings = settings_factory(cors_origins="http://ops.example, https://portal.example:8443")
    _, key = ApiKeyStore(settings.api_keys_path).create("portal", ["read"])
    client = make_client(cors_origins=settings.cors_origins, auth_required=True)

    anonymous = client.get("/meters/", headers={"Origin": OPS})
    keyed = client.get("/meters/", headers={"Origin": "https://portal.example:8443", "X-API-Key": key})

    assert anonymous.status_code == 401 and anonymous.json()["error"] == "Unauthorized"
    assert anonymous.headers["access-control-allow-origin"] == OPS
    assert keyed.status_code == 200
    assert keyed.headers["access-control-allow-origin"] == "https://portal.example:8443"


@pytest.mark.parametrize(
    ("origins", "credentials", "problem"),
    [
        pytest.param('["*"]', True, "EF_CORS_ALLOW_CREDENTIALS", id="any-origin-with-credentials"),
        pytest.param("http://ops.example/", False, "trailing slash", id="not-an-origin"),
        pytest.param("ops.example", False, "scheme://host", id="no-scheme"),
    ],
)
def test_dangerous_or_malformed_origins_stop_start_up(
    settings_factory: Callable[..., Settings], origins: str, credentials: bool, problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        settings_factory(cors_origins=origins, cors_allow_credentials=credentials)
