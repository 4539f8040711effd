"""Training end to end through the API: embedded Redis, in-process workers, the real service."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.settings import Settings, load_settings
from energy_forecast.storage.base import SeriesStore
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.influx_store import InfluxSeriesStore
from tests.conftest import hourly_series, isolate_environment

STAGES = [
    "PENDING",
    "STARTED",
    "CONNECTING",
    "FETCHING_DATA",
    "VALIDATING_DATA",
    "TRAINING_MODEL",
    "SAVING_MODEL",
]


def seed_store(store: SeriesStore) -> None:
    readings = hourly_series("2024-01-01", hours=24 * 60, seed=1)
    store.upsert_meters(
        [
            Meter("bldg1", MeterType.ELECTRICITY, "s1"),
            Meter("tiny", MeterType.ELECTRICITY, "s1"),
            Meter("empty", MeterType.WATER, "s1"),
        ]
    )
    store.write_readings(MeterType.ELECTRICITY, "bldg1", readings)
    store.write_readings(MeterType.ELECTRICITY, "tiny", readings.iloc[:30])
    store.write_temperature(
        "s1", hourly_series("2024-01-01", hours=24 * 60, seed=2, base=10, name="temperature")
    )


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("embedded", id="embedded-redis-in-process-workers"),
        pytest.param("external", id="external-redis-separate-worker", marks=pytest.mark.integration),
    ],
)
def service(request: pytest.FixtureRequest) -> Iterator[tuple[TestClient, Path]]:
    """One running service per variant for the module (the app, its Redis and its workers start
    once) and its home. ``client`` gives each test that home without models; task ids never repeat."""
    # A short home keeps the embedded Redis socket path well under the unix limit.
    home = Path(tempfile.mkdtemp(prefix="ef-"))
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_environment(monkeypatch, home)
        if request.param == "embedded":
            settings = load_settings(home=home, worker_threads=2)
            store: SeriesStore = DuckDBSeriesStore(settings.duckdb_path)
            seed_store(store)
            try:
                with TestClient(create_app(settings, store=store)) as test_client:
                    yield test_client, home
            finally:
                store.close()
                shutil.rmtree(home, ignore_errors=True)
            return

        redis_url = request.getfixturevalue("redis_url")
        influx_url = request.getfixturevalue("influx_url")
        database = f"ef_test_{uuid.uuid4().hex[:12]}"
        redis.Redis.from_url(redis_url).flushdb()
        env = {
            **os.environ,
            "EF_HOME": str(home),
            "REDIS_URL": redis_url,
            "INFLUX_URL": influx_url,
            "INFLUX_BUCKET": database,
            "EF_WORKER_HEARTBEAT_TIMEOUT": "PT5S",
        }
        settings = load_settings(
            home=home, redis_url=redis_url, influx={"url": influx_url, "bucket": database}
        )
        store = InfluxSeriesStore(influx_url, database)
        seed_store(store)
        worker_log = (home / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "energy_forecast", "worker", "--processes", "1", "--threads", "2"],
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
        )
        try:
            with TestClient(create_app(settings, store=store, run_workers=False)) as test_client:
                yield test_client, home
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
            worker_log.close()
            store.close()
            redis.Redis.from_url(redis_url).flushdb()
            httpx.post(f"{influx_url}/query", params={"q": f'DROP DATABASE "{database}"'}, timeout=10)
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def client(service: tuple[TestClient, Path]) -> TestClient:
    """The module's service, its home without models: every training here is the meter's first."""
    test_client, home = service
    shutil.rmtree(home / "models", ignore_errors=True)
    return test_client


def wait_for(client: TestClient, task_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.get(f"/trainmodel/status/{task_id}").json()
        if status["status"] in {"SUCCESS", "FAILURE", "CANCELLED"}:
            return status
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} did not finish: {status}")


def test_training_reaches_success_through_every_stage_in_order(client: TestClient) -> None:
    accepted = client.post("/trainmodel/", json={"meter_id": "bldg1", "meter_type": "electricity"})
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "PENDING" and accepted.json()["progress"] == 0
    task_id = accepted.json()["task_id"]

    status = wait_for(client, task_id)
    with client.stream("GET", f"/trainmodel/stream/{task_id}") as stream:
        events = [line for line in stream.iter_lines() if line.startswith("data: ")]

    assert status["status"] == "SUCCESS" and status["progress"] == 100, status
    details = status["result"]["details"]
    assert details["meter_id"] == "bldg1" and details["data_points"] == 24 * 60
    assert details["model_path"] == "models/electricity/bldg1/v0001"  # relative: no host path
    assert details["training_time_seconds"] > 0 and "training_completed" in details
    seen = [json.loads(e[6:])["status"] for e in events]
    assert [s for s in seen if s != "SUCCESS"] == STAGES
    assert seen[-1] == "SUCCESS"
    progress = [json.loads(e[6:])["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 100


def test_v2_window_trains_on_that_window_only(client: TestClient) -> None:
    body = {
        "meter_id": "bldg1",
        "meter_type": "electricity",
        "start_date": "2024-01-01T00:00:00Z",
        "end_date": "2024-01-31T23:59:59Z",
    }

    status = wait_for(client, client.post("/trainmodel/v2/", json=body).json()["task_id"])

    assert status["status"] == "SUCCESS", status
    assert status["result"]["details"]["data_points"] == 31 * 24


@pytest.mark.parametrize(
    ("meter_id", "meter_type", "error_type"),
    [
        pytest.param("empty", "water", "NO_DATA_FOUND", id="no-data"),
        pytest.param("never-imported", "electricity", "NO_DATA_FOUND", id="unknown-meter"),
        pytest.param("tiny", "electricity", "INSUFFICIENT_DATA", id="too-little"),
    ],
)
def test_data_problems_end_in_failure_with_their_error_type(
    client: TestClient, meter_id: str, meter_type: str, error_type: str
) -> None:
    task_id = client.post("/trainmodel/", json={"meter_id": meter_id, "meter_type": meter_type}).json()[
        "task_id"
    ]

    status = wait_for(client, task_id)

    assert status["status"] == "FAILURE"
    assert status["error"]["error_type"] == error_type
    assert status["error"]["error"] and status["error"]["timestamp"]


@pytest.mark.parametrize("meter_id", ["../../etc", "a b", "x" * 80, ""])
def test_unsafe_meter_ids_are_refused_before_queueing(client: TestClient, meter_id: str) -> None:
    response = client.post("/trainmodel/", json={"meter_id": meter_id, "meter_type": "electricity"})

    assert response.status_code == 422
    assert client.get("/trainmodel/active_task").json() == []


def test_inverted_window_is_422(client: TestClient) -> None:
    body = {
        "meter_id": "bldg1",
        "meter_type": "electricity",
        "start_date": "2024-02-01",
        "end_date": "2024-01-01",
    }

    response = client.post("/trainmodel/v2/", json=body)

    assert response.status_code == 422
    assert "end_date must be after start_date" in response.text


def test_unknown_task_is_404(client: TestClient) -> None:
    response = client.get("/trainmodel/status/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404
    assert response.json() == {
        "error": "TaskNotFoundError",
        "detail": "task '00000000-0000-0000-0000-000000000000' is unknown or its records expired",
    }


def test_batch_trains_every_meter_of_a_type(client: TestClient) -> None:
    accepted = client.post("/trainmodel/batch/", json={"meter_type": "electricity"})
    assert accepted.status_code == 202
    batch_id = accepted.json()["batch_id"]
    assert set(accepted.json()["task_ids"]) == {"bldg1", "tiny"}

    deadline = time.monotonic() + 60
    while not (batch := client.get(f"/trainmodel/batch/{batch_id}").json())["done"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)

    assert batch["states"] == {"SUCCESS": 1, "FAILURE": 1}
    assert batch["progress"] == 100


def wait_done(client: TestClient, url: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not (body := client.get(url).json())["done"]:
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    result: dict[str, Any] = body
    return result


def test_the_fleet_test_runs_as_one_task_per_meter_and_ends_with_fleet_medians(client: TestClient) -> None:
    trained = client.post("/trainmodel/batch/", json={"meter_ids": ["bldg1"]}).json()
    wait_done(client, f"/trainmodel/batch/{trained['batch_id']}")

    accepted = client.post("/test_model/all_models/", json={"meter_type": "electricity"})
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["meters"] == 1 and set(accepted.json()["task_ids"]) == {"bldg1"}
    body = wait_done(client, accepted.json()["status_url"])

    assert body["states"] == {"SUCCESS": 1} and body["evaluated"] == 1 and body["failed"] == 0
    row = body["meters"][0]
    assert row["meter_id"] == "bldg1" and row["version"] == 1 and row["test_samples"] > 0
    assert body["fleet_medians"]["cv_rmse_percent"] == row["cv_rmse_percent"]
    assert client.get(f"/test_model/all_models/{trained['batch_id']}").status_code == 404  # not a test


def test_unreachable_redis_at_enqueue_is_a_503_with_a_message(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_factory(redis_url="redis://127.0.0.1:1/0")
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    with TestClient(create_app(settings, store=store, run_workers=False)) as client:
        response = client.post("/trainmodel/", json={"meter_id": "m1", "meter_type": "electricity"})
        status = client.get("/trainmodel/status/00000000-0000-0000-0000-000000000000")

    assert response.status_code == 503
    assert "Redis" in response.json()["detail"] and "REDIS_URL" in response.json()["detail"]
    assert "Traceback" not in response.text
    assert status.status_code == 503
    store.close()
