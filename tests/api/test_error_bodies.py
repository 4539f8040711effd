"""Every HTTP error answers {error, detail}; error_type only where the seed's class is true."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore


class BrokenRegistry(DuckDBSeriesStore):
    """The real store, except that listing meters fails as a bug would."""

    def list_meters(self) -> list[Meter]:
        raise RuntimeError("registry exploded")


@pytest.fixture
def client(settings_factory: Callable[..., Settings], tmp_path: Path) -> Iterator[TestClient]:
    store = BrokenRegistry(tmp_path / "s.duckdb")
    app = create_app(settings_factory(), store=store, start_tasks=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    store.close()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        pytest.param("GET", "/no-such-path/", None, 404, "NotFound", id="unrouted"),
        pytest.param(
            "POST", "/forecast/", {"meter_id": "a b"}, 422, "RequestValidationError", id="invalid-body"
        ),
        pytest.param(
            "POST",
            "/forecast/",
            {"meter_id": "m1", "meter_type": "water", "start_date": "2024-02-01", "end_date": "2024-01-01"},
            422,
            "InputDataError",
            id="inverted-window",
        ),
        pytest.param("GET", "/meters/", None, 500, "InternalServerError", id="crash"),
    ],
)
def test_errors_name_their_class_and_claim_no_task_error_type(
    client: TestClient, method: str, path: str, body: object, status: int, error: str
) -> None:
    response = client.request(method, path, json=body)

    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["detail"]
    assert "error_type" not in response.json()
    assert "registry exploded" not in response.text


def test_a_meter_without_readings_keeps_its_true_error_type(client: TestClient) -> None:
    client.app.state.store.upsert_meters([Meter("m1", MeterType.WATER)])  # type: ignore[attr-defined]

    response = client.post("/test_model/", json={"meter_id": "m1", "meter_type": "water"})

    assert response.status_code == 404
    assert response.json()["error"] == "NoDataFoundError" and response.json()["error_type"] == "NO_DATA_FOUND"
