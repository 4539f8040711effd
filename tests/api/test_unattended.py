"""The embedded ``serve`` alone keeps a fleet fresh: first models, retrains, publications, health.

Intervals are seconds so the whole cycle fits in a test: the scheduler in the app trains meters
that have no model, retrains them past the maximum age, publishes their forecasts, and reports it
all through ``/schedule/``, ``/health/`` and ``/metrics``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.tasks import TaskProgress, TaskState
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.tasks.progress import Guard
from energy_forecast.tasks.publications import PublicationIndex
from tests.conftest import hourly_series

METERS = ("a1", "a2")


def _app(settings: Settings, home: Path) -> Iterator[TestClient]:
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters([Meter(m, MeterType.ELECTRICITY, "s1") for m in METERS])
    for i, meter_id in enumerate(METERS):
        store.write_readings(
            MeterType.ELECTRICITY, meter_id, hourly_series("2024-01-01", hours=24 * 30, seed=i)
        )
    with TestClient(create_app(settings, store=store)) as client:
        yield client
    store.close()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def unattended(settings_factory: Callable[..., Settings]) -> Iterator[TestClient]:
    home = Path(tempfile.mkdtemp(prefix="ef-"))
    schedule = {
        "enabled": True,
        "tick": timedelta(seconds=1),
        "model_max_age": timedelta(seconds=6),
        "forecast_every": timedelta(seconds=2),
        "forecast_days": 1,
    }
    yield from _app(settings_factory(home=home, worker_threads=2, fit_threads=1, schedule=schedule), home)


def _until(check: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("not reached in time")


def test_the_embedded_serve_trains_retrains_publishes_and_reports_on_its_own(unattended: TestClient) -> None:
    def retrained() -> bool:
        histories = [unattended.get(f"/models/electricity/{m}") for m in METERS]
        return all(h.status_code == 200 and len(h.json()["versions"]) >= 2 for h in histories)

    _until(retrained)

    def fresh_forecasts() -> list[dict[str, Any]] | None:
        answers = [unattended.get(f"/forecasts/electricity/{m}/latest") for m in METERS]
        if not all(a.status_code == 200 for a in answers):
            return None
        bodies = [a.json() for a in answers]
        return bodies if all(b["model_version"] != "substituted" for b in bodies) else None

    published = _until(fresh_forecasts)
    schedule = unattended.get("/schedule/").json()
    health = unattended.get("/health/").json()
    metrics = unattended.get("/metrics").text
    history = unattended.get("/models/electricity/a1").json()

    for body in published:
        issued = datetime.fromisoformat(body["issued_at"])
        assert datetime.now(UTC) - issued < timedelta(seconds=30)
        assert len(body["points"]) == 24
    second = history["versions"][1]
    assert second["status"] in {"active", "rejected"} and second["reason"]
    assert history["versions"][0]["status"] in {"active", "previous"}
    jobs = {job["name"]: job for job in schedule["jobs"]}
    assert set(jobs) == {"train", "forecast", "retention", "alerts"}
    assert all(job["last_run"] and job["outcome"] == "success" for job in jobs.values())
    assert schedule["leader"]["pid"] and schedule["this_process"]["leading"]
    assert health["checks"]["scheduler"]["status"] == "ok"
    assert health["checks"]["published_forecasts"]["published_meters"] == 2
    assert "ef_scheduler_leader 1.0" in metrics
    assert 'ef_scheduler_runs_total{job="train",outcome="success"}' in metrics
    assert "ef_forecast_published_meters 2.0" in metrics


@pytest.fixture
def no_scheduler(settings_factory: Callable[..., Settings]) -> Iterator[TestClient]:
    home = Path(tempfile.mkdtemp(prefix="ef-"))
    schedule = {"enabled": True, "in_serve": False, "forecast_every": timedelta(minutes=1)}
    yield from _app(settings_factory(home=home, schedule=schedule), home)


def test_health_is_degraded_without_a_scheduler_and_with_stale_published_forecasts(
    no_scheduler: TestClient,
) -> None:
    before = no_scheduler.get("/health/").json()
    index = PublicationIndex(no_scheduler.app.state.tasks.client)  # type: ignore[attr-defined]
    old = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    index.record([{"meter_id": "a1", "meter_type": "electricity", "issued_at": old, "error": None}])
    no_scheduler.app.state.health_cache = None  # type: ignore[attr-defined]  # /health/ keeps its answer 1 s

    after = no_scheduler.get("/health/").json()
    metrics = no_scheduler.get("/metrics").text

    assert before["status"] == "degraded" and before["checks"]["scheduler"]["status"] == "warning"
    assert before["checks"]["published_forecasts"]["status"] == "ok"
    assert after["checks"]["published_forecasts"]["status"] == "warning"
    assert after["checks"]["published_forecasts"]["stale_meters"] == 1
    assert "ef_scheduler_lease_held 0.0" in metrics and "ef_forecasts_stale 1.0" in metrics


def test_the_fleet_page_marks_drifted_meters_and_meters_whose_trainings_keep_failing(
    no_scheduler: TestClient,
) -> None:
    queue = no_scheduler.app.state.tasks  # type: ignore[attr-defined]
    now = datetime.now(UTC).isoformat()
    PublicationIndex(queue.client).record(
        [{"meter_id": "a1", "meter_type": "electricity", "issued_at": now, "model_version": "v3",
          "live_cv_rmse_percent": 30.0, "holdout_cv_rmse_percent": 10.0, "error": None}]
    )  # fmt: skip
    failed = TaskProgress("0123456789abcdef", TaskState.FAILURE, 15, "meter 'a2' has too few readings")
    queue.store.write(failed, Guard.FINAL)
    attempt = {"task_id": failed.task_id, "at": now, "failures": 2}
    queue.client.hset("ef_scheduler:train_attempts", "electricity:a2", json.dumps(attempt))

    html = no_scheduler.get("/").text

    assert '<tr data-meter-id="a1" class="drifted">' in html
    assert '<tr data-meter-id="a2" class="failing">' in html
    assert "3 failed" in html and "too few readings" in html
    assert 'id="drifted-count">1<' in html and 'id="failing-count">1<' in html
    assert 'data-endpoint="/schedule/live_accuracy"' in html
