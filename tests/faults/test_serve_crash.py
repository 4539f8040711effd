"""``serve`` on its embedded default is SIGKILLed mid-batch; a restart on the same home finishes it.

A crash mid-batch, small: a batch of trainings, ``kill -9`` while two have finished, one is
writing its model bundle and the rest wait; then either the dead run's redis-server lives on
(the process alone crashed) or it is SIGKILLed too (a power cut, as far as a process can tell).
After ``serve`` restarts on the same ``EF_HOME`` every task must end SUCCESS with its record, the
batch must answer at every poll and end whole, no task may have trained into a second model
version, exactly one embedded redis-server may serve the home, and none after a normal stop.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from energy_forecast.domain.meters import MeterType
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.faults.conftest import seed_meters
from tests.faults.embedded_home import Serve, redis_servers, short_home
from tests.tasks.fakes import wait_for

pytestmark = pytest.mark.integration

METERS = [f"m{i}" for i in range(6)]
RUNNING = {"STARTED", "CONNECTING", "FETCHING_DATA", "VALIDATING_DATA", "TRAINING_MODEL", "SAVING_MODEL"}


@pytest.fixture
def home() -> Iterator[Path]:
    path = short_home()
    store = DuckDBSeriesStore(path / "energy.duckdb")
    seed_meters(store, METERS)
    store.close()
    yield path
    for server in redis_servers(path):  # only after a failed test: the assertions want none
        server.kill()
    shutil.rmtree(path, ignore_errors=True)


def _batch_killed_at_a_pause(home: Path, **pause: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A batch over METERS on ``serve`` with a ``serve_main`` pause hook, SIGKILLed once paused.

    Returns the batch id, its task ids by meter, and the batch as it stood when killed; the hook
    writes what it paused in to ``home / "paused"``.
    """
    marker = home / "paused"
    with Serve(home, module="tests.faults.serve_main", EF_TEST_MARKER=str(marker), **pause) as first:
        accepted = first.client.post("/trainmodel/batch/", json={"meter_type": "electricity"})
        assert accepted.status_code == 202, accepted.text
        batch_id, task_ids = accepted.json()["batch_id"], accepted.json()["task_ids"]
        wait_for(marker.exists, timeout=120, interval=0.05)
        cut = first.batch(batch_id)
        first.kill()
    return batch_id, task_ids, cut


@pytest.mark.parametrize(
    "redis_survives",
    [pytest.param(True, id="its-redis-survives"), pytest.param(False, id="its-redis-killed-too")],
)
def test_a_batch_cut_by_a_killed_serve_finishes_after_a_restart_on_the_same_home(
    home: Path, redis_survives: bool
) -> None:
    batch_id, task_ids, cut = _batch_killed_at_a_pause(home, EF_TEST_PAUSE_AT_SAVE="3")
    assert not cut["done"] and 1 <= cut["states"].get("SUCCESS", 0) < len(METERS), cut["states"]
    assert "SAVING_MODEL" in cut["states"], cut["states"]
    finished_before = {t["task_id"] for t in cut["tasks"] if t["status"] == "SUCCESS"}
    [leftover] = redis_servers(home)  # the dead run's server lives on, holding its queue
    if not redis_survives:
        leftover.kill()
        leftover.wait(5)

    with Serve(home) as second:
        polls = [second.batch(batch_id)]  # answers at once: the batch record survived
        restarted = time.monotonic()
        while not polls[-1]["done"] and time.monotonic() - restarted < 120:
            time.sleep(0.2)
            polls.append(second.batch(batch_id))
        serving = redis_servers(home)
        statuses = [second.client.get(f"/trainmodel/status/{t}").json() for t in task_ids.values()]
        exit_code = second.stop()

    final = polls[-1]
    assert final["done"] and final["states"] == {"SUCCESS": len(METERS)}, final["states"]
    assert [s["status"] for s in statuses] == ["SUCCESS"] * len(METERS)
    assert {s["result"]["details"]["meter_id"] for s in statuses} == set(METERS)
    assert len(serving) == 1 and serving[0].pid != leftover.pid
    assert exit_code == -signal.SIGTERM  # uvicorn re-raises the signal after its graceful shutdown
    assert redis_servers(home) == []
    assert not (home / "redis" / "redis.sock").exists()
    models = FileModelStore(home / "models")
    # One version each: a finished task was not trained again, the killed save never became one.
    for meter_id in METERS:
        assert [v.version for v in models.list_versions(MeterType.ELECTRICITY, meter_id)] == [1]
    assert finished_before <= {s["task_id"] for s in statuses if s["status"] == "SUCCESS"}


def test_a_task_killed_between_its_save_and_its_success_ends_with_that_version_not_a_second_one(
    home: Path,
) -> None:
    """At-least-once delivery, exactly-once effect: the redelivered task finds what it saved."""
    batch_id, task_ids, cut = _batch_killed_at_a_pause(home, EF_TEST_PAUSE_AFTER_SAVE="1")
    caught = Path((home / "paused").read_text(encoding="utf-8")).name  # its version has no record
    assert cut["states"].get("SUCCESS", 0) == 0, cut["states"]
    models = FileModelStore(home / "models")
    [saved] = models.list_versions(MeterType.ELECTRICITY, caught)
    assert not saved.active and saved.metadata["task_id"] == task_ids[caught]

    with Serve(home) as second:
        restarted = time.monotonic()
        while not second.batch(batch_id)["done"] and time.monotonic() - restarted < 120:
            time.sleep(0.2)
        status = second.client.get(f"/trainmodel/status/{task_ids[caught]}").json()
        forecast = second.client.post(
            "/forecast/",
            json={
                "meter_id": caught,
                "meter_type": "electricity",
                "start_date": "2024-01-29",
                "end_date": "2024-01-30",
            },
        )
        second.stop()

    assert status["status"] == "SUCCESS", status
    assert status["result"]["details"]["model_version"] == 1
    assert [(v.version, v.active) for v in models.list_versions(MeterType.ELECTRICITY, caught)] == [(1, True)]
    assert forecast.status_code == 200, forecast.text
    assert forecast.json()["model_version"] == 1
    for meter_id in METERS:
        assert [v.version for v in models.list_versions(MeterType.ELECTRICITY, meter_id)] == [1]
