"""Redis crashes and comes back in the middle of a batch of 100 trainings.

What "not lost" means here: Redis runs with an append-only file fsynced on every write
(``appendfsync always``; see the docs' "Failure modes"), so a crash loses no write that Redis
acknowledged. Every one of the 100 tasks must then end in SUCCESS, or in FAILURE with its
``task_error`` record and its message in the dead-letter queue; none may stay queued or running
for ever. While Redis is down the API answers 503 with a message, and it recovers by itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.faults.conftest import TERMINAL, seed_meters
from tests.faults.servers import PrivateRedis
from tests.tasks.fakes import wait_for

pytestmark = pytest.mark.integration

TASKS = 100
DLQ = "dramatiq:default.XQ"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    with PrivateRedis(tmp_path / "redis") as server:
        yield server  # type: ignore[misc]


def batch(client: TestClient, batch_id: str) -> dict[str, Any]:
    response = client.get(f"/trainmodel/batch/{batch_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_task_of_a_batch_survives_a_redis_crash(
    private_redis: PrivateRedis, settings_factory: Any, tmp_path: Path
) -> None:
    settings = settings_factory(
        redis_url=private_redis.url,
        worker_threads=2,
        fit_threads=1,
        worker_heartbeat_timeout=timedelta(seconds=3),
    )
    store = DuckDBSeriesStore(tmp_path / "energy.duckdb")
    meter_ids = [f"m{i:03d}" for i in range(TASKS)]
    seed_meters(store, meter_ids, hours=24 * 21)
    app = create_app(settings, store=store)
    with TestClient(app) as client:
        accepted = client.post("/trainmodel/batch/", json={"meter_type": "electricity"})
        assert accepted.status_code == 202, accepted.text
        batch_id, task_ids = accepted.json()["batch_id"], accepted.json()["task_ids"]
        assert len(task_ids) == TASKS
        wait_for(lambda: batch(client, batch_id)["states"].get("SUCCESS", 0) >= 10, timeout=120)

        private_redis.kill()
        down_since = time.monotonic()
        some_task = next(iter(task_ids.values()))
        status = client.get(f"/trainmodel/status/{some_task}")
        assert status.status_code == 503
        assert "Redis" in status.json()["detail"]
        enqueue = client.post("/trainmodel/", json={"meter_id": "m000", "meter_type": "electricity"})
        assert enqueue.status_code == 503
        time.sleep(max(0.0, 3.0 - (time.monotonic() - down_since)))
        private_redis.start()

        final = wait_for(lambda: (b := batch(client, batch_id))["done"] and b, timeout=240, interval=0.5)
        assert client.get(f"/trainmodel/status/{some_task}").status_code == 200

    store.close()
    states = {t["task_id"]: t["status"] for t in final["tasks"]}
    assert set(states) == set(task_ids.values())
    assert set(states.values()) <= TERMINAL - {"CANCELLED"}, final["states"]
    failed = [t for t, s in states.items() if s == "FAILURE"]
    check = redis.Redis.from_url(private_redis.url)
    try:
        dead = {m.decode() for m in check.zrange(DLQ, 0, -1)}
        for task_id in failed:
            assert check.exists(f"task_error:{task_id}"), task_id
            assert task_id in dead, task_id
    finally:
        check.close()
    assert final["states"].get("SUCCESS", 0) + len(failed) == TASKS
