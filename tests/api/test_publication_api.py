"""Publication through the API: a batch of chunk tasks, its state, and the last published forecast."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.settings import Settings, load_settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.conftest import hourly_series, isolate_environment


def seeded_app(settings: Settings) -> Iterator[TestClient]:
    """The app on a home with three electricity meters (no models yet), embedded Redis and workers."""
    store = DuckDBSeriesStore(settings.duckdb_path)
    readings = hourly_series("2024-01-01", hours=24 * 40, seed=5)
    store.upsert_meters([Meter(f"m{i}", MeterType.ELECTRICITY, "s1") for i in range(3)])
    for i in range(3):
        store.write_readings(MeterType.ELECTRICITY, f"m{i}", readings * (i + 1))
    try:
        with TestClient(create_app(settings, store=store)) as test_client:
            yield test_client
    finally:
        store.close()
        shutil.rmtree(settings.home, ignore_errors=True)


@pytest.fixture
def client(settings_factory: Callable[..., Settings]) -> Iterator[TestClient]:
    home = Path(tempfile.mkdtemp(prefix="ef-"))  # short: the embedded Redis socket lives here
    yield from seeded_app(settings_factory(home=home, worker_threads=2, fit_threads=1))


@pytest.fixture(scope="module")
def untrained_client() -> Iterator[TestClient]:
    """One app for the module's tests that only read or are refused: nothing is trained or published."""
    home = Path(tempfile.mkdtemp(prefix="ef-"))
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_environment(monkeypatch, home)
        yield from seeded_app(load_settings(home=home, worker_threads=2, fit_threads=1))


def _until(client: TestClient, path: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(path).json()
        if done(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{path} never finished: {body}")


def test_publish_splits_the_fleet_into_chunk_tasks_and_latest_reads_them_back(client: TestClient) -> None:
    batch = client.post("/trainmodel/batch/", json={}).json()
    _until(client, f"/trainmodel/batch/{batch['batch_id']}", lambda b: b["done"])

    accepted = client.post("/forecasts/publish", json={"days": 2, "chunk_size": 2})
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["tasks"] == 2 and body["meters"] == 3 and len(body["task_ids"]) == 2
    status = _until(client, f"/forecasts/publish/{body['batch_id']}", lambda b: b["done"])
    latest = client.get("/forecasts/electricity/m2/latest")

    assert status["state"] == "SUCCESS", status
    assert status["published"] == 3 and status["failed"] == 0 and status["meters"] == 3
    assert [t["status"] for t in status["tasks"]] == ["SUCCESS", "SUCCESS"]
    assert latest.status_code == 200, latest.text
    published = latest.json()
    assert published["model_version"] == "v1" and not published["substituted"]
    assert len(published["points"]) == 48
    assert all(p["lower"] <= p["value"] <= p["upper"] for p in published["points"])
    assert all(
        p["quantiles"] == {"p10": p["lower"], "p50": p["value"], "p90": p["upper"]}
        for p in published["points"]
    )
    assert published["points"][0]["datetime"] == published["first_hour"]
    assert published["issued_at"] and published["holdout_cv_rmse_percent"] is not None


def test_latest_is_404_before_anything_was_published(untrained_client: TestClient) -> None:
    response = untrained_client.get("/forecasts/electricity/m0/latest")

    assert response.status_code == 404
    assert "POST /forecasts/publish" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/forecasts/publish/0123456789abcdef", 404, id="unknown-batch"),
        pytest.param("/forecasts/publish/not-a-batch!", 422, id="bad-batch-id"),
    ],
)
def test_publish_status_of_an_unknown_batch(untrained_client: TestClient, path: str, expected: int) -> None:
    assert untrained_client.get(path).status_code == expected


def test_publish_without_any_model_says_what_to_do(untrained_client: TestClient) -> None:
    response = untrained_client.post("/forecasts/publish", json={})

    assert response.status_code == 422
    assert "train meters first" in response.json()["detail"]
