"""/docs and /redoc name no other host: every script, style and icon comes from the app, under a CSP."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore


@pytest.fixture
def client(settings_factory: Callable[..., Settings], tmp_path: Path) -> Iterator[TestClient]:
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    with TestClient(create_app(settings_factory(), store=store, start_tasks=False)) as test_client:
        yield test_client
    store.close()


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_page_and_its_assets_come_from_the_app_only(client: TestClient, path: str) -> None:
    page = client.get(path)

    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "http" not in csp
    references = re.findall(r'(?:src|href|spec-url|data-openapi-url)="([^"]+)"', page.text)
    assert references and all(ref.startswith("/") and not ref.startswith("//") for ref in references)
    assert "<script>" not in page.text  # no inline script: the CSP would refuse it
    for ref in references:
        assert client.get(ref).status_code == 200, ref
