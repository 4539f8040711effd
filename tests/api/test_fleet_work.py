"""Fleet-wide work is scoped, deduplicated and capped per key (the probe's ten fleet tests)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.services.apikeys import ApiKeyStore
from energy_forecast.services.training import train_meter
from energy_forecast.settings import Settings, load_settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series

METERS = ("b1", "b2")


@pytest.fixture
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ef-"))  # short: the embedded Redis socket lives here
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make_settings(home: Path, **limits: int) -> Settings:
    return load_settings(
        home=home, rate_limit_per_s=0, weather={"providers": []}, schedule={"enabled": False}, limits=limits
    )


def trained_store(settings: Settings) -> DuckDBSeriesStore:
    """Two meters with an active model each, trained before the app starts (no worker needed)."""
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters([Meter(m, MeterType.ELECTRICITY, "s1") for m in METERS])
    models = FileModelStore(settings.models_dir)
    for seed, meter_id in enumerate(METERS):
        store.write_readings(MeterType.ELECTRICITY, meter_id, hourly_series(hours=24 * 21, seed=seed))
        train_meter(store, models, meter_id=meter_id, meter_type=MeterType.ELECTRICITY)
    return store


def depth(client: TestClient, queue: str) -> int:
    return int(client.app.state.tasks.client.llen(f"dramatiq:{queue}"))  # type: ignore[attr-defined]


def test_ten_fleet_tests_queue_one_and_a_training_waits_in_its_own_queue(home: Path) -> None:
    settings = make_settings(home)
    keys = ApiKeyStore(settings.api_keys_path)
    reader = {"X-API-Key": keys.create("dashboard", ["read"])[1]}
    writer = {"X-API-Key": keys.create("operator", ["write"])[1]}
    store = trained_store(settings)

    with TestClient(create_app(settings, store=store, run_workers=False)) as client:
        refused = client.post("/test_model/all_models/", json={}, headers=reader)
        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(
                pool.map(lambda _: client.post("/test_model/all_models/", json={}, headers=writer), range(10))
            )
        evaluations = depth(client, "evaluation")
        training = client.post(
            "/trainmodel/", json={"meter_id": "b1", "meter_type": "electricity"}, headers=writer
        )
        trainings = depth(client, "default")
        typed = client.post("/test_model/all_models/", json={"meter_type": "electricity"}, headers=writer)
    store.close()

    assert refused.status_code == 403 and "write" in refused.json()["detail"]
    assert [a.status_code for a in answers] == [202] * 10
    assert len({a.json()["batch_id"] for a in answers}) == 1  # one batch, not ten
    assert sorted(a.json()["already_running"] for a in answers) == [False] + [True] * 9
    assert all(set(a.json()["task_ids"]) == set(METERS) for a in answers)
    assert evaluations == len(METERS)
    assert training.status_code == 200 and trainings == 1  # not behind the evaluations
    assert typed.status_code == 202 and typed.json()["already_running"] is False  # another scope


def test_a_key_at_its_cap_of_queued_tasks_gets_429_and_others_do_not(home: Path) -> None:
    settings = make_settings(home, queued_tasks_per_key=3)
    keys = ApiKeyStore(settings.api_keys_path)
    first = {"X-API-Key": keys.create("one", ["write"])[1]}
    second = {"X-API-Key": keys.create("two", ["write"])[1]}

    with TestClient(create_app(settings, run_workers=False)) as client:

        def train(meter_id: str, headers: dict[str, str]) -> int:
            body = {"meter_id": meter_id, "meter_type": "electricity"}
            return client.post("/trainmodel/", json=body, headers=headers).status_code

        queued = [train(f"m{i}", first) for i in range(3)]
        refused = client.post(
            "/trainmodel/", json={"meter_id": "m3", "meter_type": "electricity"}, headers=first
        )
        other = train("m4", second)
        task_id = client.get("/trainmodel/active_task", headers=first).json()[0]["task_id"]
        client.post(f"/trainmodel/cancel/{task_id}", headers=first)
        after_cancel = train("m5", first)

    assert queued == [200, 200, 200]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "QUEUED_TASKS_PER_KEY" in refused.json()["detail"]
    assert other == 200
    assert after_cancel == 200  # a finished task no longer counts


def test_an_oversized_batch_is_refused_before_anything_is_queued(home: Path) -> None:
    settings = make_settings(home)
    with TestClient(create_app(settings, run_workers=False)) as client:
        too_many = client.post("/trainmodel/batch/", json={"meter_ids": [f"m{i}" for i in range(10_001)]})
        too_big = client.post(
            "/trainmodel/batch/",
            content=b'{"meter_ids": [' + b'"m",' * 300_000 + b'"m"]}',
            headers={"content-type": "application/json"},
        )
        waiting = depth(client, "default")

    assert too_many.status_code == 422
    assert too_big.status_code == 413
    assert waiting == 0


def test_the_publication_status_route_refuses_a_training_batch(home: Path) -> None:
    settings = make_settings(home)
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters([Meter("b1", MeterType.ELECTRICITY, "s1")])
    with TestClient(create_app(settings, store=store, run_workers=False)) as client:
        batch = client.post("/trainmodel/batch/", json={"meter_ids": ["b1"]}).json()["batch_id"]
        as_publication = client.get(f"/forecasts/publish/{batch}")
        as_training = client.get(f"/trainmodel/batch/{batch}")
    store.close()

    assert as_training.status_code == 200
    assert as_publication.status_code == 404
