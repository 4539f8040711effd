"""A wrong method answers 405 whose ``Allow`` names every method of the path (RFC 9110), not only the
methods of the first route Starlette matched."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.settings import Settings


@pytest.fixture
def client(settings_factory: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(settings_factory(), start_tasks=False)) as opened:
        yield opened


@pytest.mark.parametrize("method", ["OPTIONS", "DELETE", "PUT", "PATCH"])
def test_a_path_served_by_two_routes_lists_both_methods(client: TestClient, method: str) -> None:
    response = client.request(method, "/location/")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json() == {"error": "MethodNotAllowed", "detail": "Method Not Allowed"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        pytest.param("GET", "/forecast/", "POST", id="single-route"),
        pytest.param("DELETE", "/models/electricity/b1", "GET", id="path-parameters"),
        pytest.param("GET", "/models/electricity/b1/activate/2", "POST", id="nested-parameters"),
    ],
)
def test_other_paths_keep_their_own_methods(client: TestClient, method: str, path: str, allow: str) -> None:
    response = client.request(method, path)

    assert response.status_code == 405 and response.headers["allow"] == allow


def test_other_http_errors_pass_through_unchanged(client: TestClient) -> None:
    response = client.get("/no-such-path/")

    assert response.status_code == 404 and "allow" not in response.headers
    assert response.json() == {"error": "NotFound", "detail": "Not Found"}
