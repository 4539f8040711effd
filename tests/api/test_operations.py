"""Operations endpoints against the real app: health, worker health, metrics and the task monitor.

The app runs the embedded Redis with in-process workers and the real training service, so the
numbers below come from real tasks, not from fakes.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.settings import Settings, load_settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.conftest import hourly_series, isolate_environment

ACTOR = "train_meter_task"


def seeded_app(settings: Settings) -> Iterator[tuple[DuckDBSeriesStore, TestClient]]:
    """The app on a home with a meter with readings (bldg1) and one without (later), its embedded
    Redis and two in-process workers."""
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters(
        [Meter("bldg1", MeterType.ELECTRICITY, "s1"), Meter("later", MeterType.ELECTRICITY, "s1")]
    )
    store.write_readings(MeterType.ELECTRICITY, "bldg1", hourly_series("2024-01-01", hours=24 * 60, seed=1))
    try:
        with TestClient(create_app(settings, store=store)) as client:
            yield store, client
    finally:
        store.close()
        shutil.rmtree(settings.home, ignore_errors=True)


@pytest.fixture
def store_and_client(
    settings_factory: Callable[..., Settings],
) -> Iterator[tuple[DuckDBSeriesStore, TestClient]]:
    home = Path(tempfile.mkdtemp(prefix="ef-"))  # short: the embedded Redis socket lives here
    yield from seeded_app(settings_factory(home=home, worker_threads=2))


@pytest.fixture
def client(store_and_client: tuple[DuckDBSeriesStore, TestClient]) -> TestClient:
    return store_and_client[1]


@pytest.fixture(scope="module")
def idle_client() -> Iterator[TestClient]:
    """One app for the module's tests that queue nothing (they read, or are refused): no task runs
    there, so its queues stay empty and its request counters count only what each such test asks."""
    home = Path(tempfile.mkdtemp(prefix="ef-"))
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate_environment(monkeypatch, home)
        for _, client in seeded_app(load_settings(home=home, worker_threads=2)):
            yield client


def poll(condition: Callable[[], Any], timeout_s: float = 60, interval_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


def train(client: TestClient, meter_id: str) -> dict[str, Any]:
    accepted = client.post("/trainmodel/", json={"meter_id": meter_id, "meter_type": "electricity"})
    assert accepted.status_code == 200, accepted.text
    task_id = accepted.json()["task_id"]

    def finished() -> dict[str, Any] | None:
        status = client.get(f"/trainmodel/status/{task_id}").json()
        return status if status["status"] in {"SUCCESS", "FAILURE", "CANCELLED"} else None

    result: dict[str, Any] = poll(finished)
    return result


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


# -- health --------------------------------------------------------------------------------------


def test_health_checks_redis_store_and_model_directory_with_latency(idle_client: TestClient) -> None:
    body = idle_client.get("/health/").json()

    assert body["status"] == "healthy"
    assert body["services"] == {
        "api": "running",
        "redis": "connected",
        "storage": "duckdb",
        "task_system": "dramatiq",
    }
    for name in ("redis", "storage", "model_directory", "workers"):
        assert body["checks"][name]["status"] == "ok", body["checks"]
        assert body["checks"][name]["latency_ms"] >= 0
    assert body["checks"]["redis"]["mode"] == "embedded"
    assert body["checks"]["workers"]["count"] == 1


def test_a_model_directory_that_cannot_be_written_degrades_the_service(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_factory(home=tmp_path / "home")
    settings.home.mkdir(parents=True)
    settings.models_dir.write_text("a file where the model directory should be")

    with TestClient(create_app(settings, start_tasks=False)) as client:
        response = client.get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["model_directory"]["status"] == "error"
    assert "not writable" in body["checks"]["model_directory"]["error"]
    assert body["checks"]["redis"]["status"] == "disabled"


def test_worker_health_reports_live_workers_clients_and_queues(idle_client: TestClient) -> None:
    body = idle_client.get("/health/worker").json()

    assert body["worker_status"] == "running"
    assert body["worker_count"] == 1
    assert body["worker_threads"] == 2
    assert body["redis_clients"] >= 1
    assert body["task_system"] == "dramatiq"
    # One queue per kind of task; training keeps the seed's "default".
    assert body["queues"] == {
        f"{q}{suffix}": 0
        for q in ("default", "evaluation", "housekeeping", "publication")
        for suffix in ("", ".DQ", ".XQ")
    }
    worker = body["workers"][0]
    assert worker["pid"] > 0 and worker["last_heartbeat_ms_ago"] >= 0


# -- metrics -------------------------------------------------------------------------------------


def test_metrics_parse_and_label_requests_by_route_template(idle_client: TestClient) -> None:
    idle_client.get("/models/electricity/bldg1")
    idle_client.get("/models/electricity/later")

    samples = scrape(idle_client)

    labels = (("method", "GET"), ("route", "/models/{meter_type}/{meter_id}"), ("status", "404"))
    assert samples[("ef_http_requests_total", labels)] == 2
    assert not any("bldg1" in dict(k[1]).get("route", "") for k in samples)
    count_key = (
        "ef_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/models/{meter_type}/{meter_id}")),
    )
    assert samples[count_key] == 2
    assert samples[("ef_queue_depth", (("queue", "default.XQ"),))] == 0
    assert samples[("ef_workers_alive", ())] == 1
    assert samples[("ef_scrape_source_up", (("source", "redis"),))] == 1


def test_task_and_model_metrics_move_when_a_model_trains(client: TestClient) -> None:
    before = scrape(client)
    actor = (("actor", ACTOR),)

    assert train(client, "bldg1")["status"] == "SUCCESS"
    after = poll(lambda: (s := scrape(client)).get(("ef_tasks_succeeded_total", actor)) and s)

    assert after[("ef_tasks_enqueued_total", actor)] == before.get(("ef_tasks_enqueued_total", actor), 0) + 1
    assert after[("ef_tasks_succeeded_total", actor)] == 1
    assert after[("ef_tasks_failed_total", actor)] == 0
    assert after[("ef_task_duration_seconds_count", actor)] == 1
    assert after[("ef_task_duration_seconds_sum", actor)] > 0
    assert (
        after[("ef_training_duration_seconds_count", ())]
        == before[("ef_training_duration_seconds_count", ())] + 1
    )
    meter = (("meter_id", "bldg1"), ("meter_type", "electricity"))
    assert 0 < after[("ef_model_cv_rmse_percent", meter)] < 100
    assert after[("ef_model_version", meter)] == 1


# -- task monitor --------------------------------------------------------------------------------


def test_task_list_shows_state_meter_duration_and_error_type(client: TestClient) -> None:
    ok = train(client, "bldg1")
    failed = train(client, "later")  # no readings yet

    everything = client.get("/tasks/").json()
    only_failed = client.get("/tasks/", params={"state": "FAILURE"}).json()

    assert everything["count"] == 2
    assert [t["task_id"] for t in everything["tasks"]] == [failed["task_id"], ok["task_id"]]
    assert [t["task_id"] for t in only_failed["tasks"]] == [failed["task_id"]]
    row = only_failed["tasks"][0]
    assert row["meter_id"] == "later" and row["actor"] == ACTOR
    assert row["error_type"] == "NO_DATA_FOUND"
    succeeded = everything["tasks"][1]
    assert succeeded["status"] == "SUCCESS" and succeeded["progress"] == 100
    assert succeeded["duration_seconds"] > 0 and succeeded["error_type"] is None


def test_a_dead_lettered_task_is_requeued_and_succeeds_once_its_data_exists(
    store_and_client: tuple[DuckDBSeriesStore, TestClient],
) -> None:
    store, client = store_and_client
    failed = train(client, "later")
    assert failed["error"]["error_type"] == "NO_DATA_FOUND"
    poll(lambda: client.get("/tasks/", params={"state": "FAILURE"}).json()["tasks"][0]["dead_lettered"])
    store.write_readings(MeterType.ELECTRICITY, "later", hourly_series("2024-01-01", hours=24 * 60, seed=3))

    response = client.post(f"/tasks/{failed['task_id']}/retry")

    assert response.status_code == 202, response.text
    retried = response.json()
    assert retried["retry_of"] == failed["task_id"] and retried["task_id"] != failed["task_id"]
    status = poll(
        lambda: (
            (s := client.get(f"/trainmodel/status/{retried['task_id']}").json())["status"] == "SUCCESS" and s
        )
    )
    assert status["result"]["details"]["meter_id"] == "later"
    assert client.get("/health/worker").json()["queues"]["default.XQ"] == 0
    again = client.post(f"/tasks/{failed['task_id']}/retry")
    assert again.status_code == 409
    assert "not dead-lettered" in again.json()["detail"]


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        # The UUID pattern is in the schema, so FastAPI's validation answers it.
        pytest.param("/tasks/not-a-uuid/retry", 422, "string_pattern_mismatch", id="malformed-id"),
        pytest.param(f"/tasks/{uuid.uuid4()}/retry", 404, "no task", id="unknown-id"),
    ],
)
def test_retry_rejects_bad_and_unknown_task_ids(
    idle_client: TestClient, path: str, status: int, fragment: str
) -> None:
    response = idle_client.post(path)

    assert response.status_code == status
    assert fragment in response.text and "error_type" not in response.json()


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"state": "EXPLODED"}, id="unknown-state"),
        pytest.param({"limit": 0}, id="limit-zero"),
    ],
)
def test_task_list_rejects_bad_filters(idle_client: TestClient, params: dict[str, Any]) -> None:
    response = idle_client.get("/tasks/", params=params)

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] in params
