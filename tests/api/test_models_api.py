"""Model registry view: GET /models/, version history and rollback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import MeterType
from energy_forecast.services.training import train_meter
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.services.test_forecasting import seed_meter


def trained_twice(folder: Path) -> None:
    """Meter b1 with two trained versions: ``s.duckdb`` and the home's ``models``."""
    store = DuckDBSeriesStore(folder / "s.duckdb")
    try:
        seed_meter(store, "b1")
        models = FileModelStore(folder / "home" / "models")
        for _ in range(2):
            train_meter(store, models, meter_id="b1", meter_type=MeterType.ELECTRICITY)
    finally:
        store.close()


@pytest.fixture
def client(
    settings_factory: Callable[..., Settings], tmp_path: Path, prebuilt: Callable[..., Path]
) -> Iterator[TestClient]:
    prebuilt(trained_twice, tmp_path)
    settings = settings_factory()
    assert settings.models_dir == tmp_path / "home" / "models"
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    with TestClient(create_app(settings, store=store, start_tasks=False)) as test_client:
        yield test_client
    store.close()


def test_models_lists_the_active_version_with_window_and_metrics(client: TestClient) -> None:
    rows = client.get("/models/").json()

    assert len(rows) == 1
    row = rows[0]
    assert (row["meter_id"], row["version"], row["active"]) == ("b1", 2, True)
    assert row["training_window"]["start"].startswith("2024-01-01") and row["saved_at"]
    assert row["metrics"]["cv_rmse_percent"] is not None and row["data_points"] == 24 * 60
    assert client.get("/models/", params={"meter_type": "water"}).json() == []


def test_history_lists_every_version_and_marks_the_active_one(client: TestClient) -> None:
    body = client.get("/models/electricity/b1").json()

    assert body["active_version"] == 2
    assert [(v["version"], v["active"]) for v in body["versions"]] == [(1, False), (2, True)]


def test_activate_rolls_back_and_forecasts_use_the_rolled_back_version(client: TestClient) -> None:
    request = {
        "meter_id": "b1",
        "meter_type": "electricity",
        "start_date": "2024-03-01",
        "end_date": "2024-03-01",
    }
    assert client.post("/forecast/", json=request).json()["model_version"] == 2

    response = client.post("/models/electricity/b1/activate/1")

    assert response.status_code == 200 and response.json()["version"] == 1 and response.json()["active"]
    assert client.get("/models/electricity/b1").json()["active_version"] == 1
    assert client.post("/forecast/", json=request).json()["model_version"] == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("post", "/models/electricity/b1/activate/9", 404, id="unknown-version"),
        pytest.param("get", "/models/electricity/ghost", 404, id="unknown-meter"),
        pytest.param("get", "/models/gas/b1", 422, id="unknown-type"),
        pytest.param("post", "/models/electricity/b1/activate/0", 422, id="version-zero"),
        pytest.param("get", "/models/electricity/bad%20id", 422, id="unsafe-id"),
    ],
)
def test_registry_errors_are_clear_4xx(client: TestClient, method: str, path: str, status: int) -> None:
    response = client.request(method.upper(), path)

    assert response.status_code == status
    assert "Traceback" not in response.text
