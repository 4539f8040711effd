"""Replays every request/response example of both seed documents against the app.

A client written against the seeds checks the status code and reads the fields the seed prints; a
change that breaks either fails here. Values differ (ids, times, accuracy), names and JSON types
must not. Runs as ``serve`` does by default: DuckDB, embedded Redis, in-process workers.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.services.ingestion import import_directory
from energy_forecast.settings import load_settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.conftest import hourly_series
from tests.contract import seed_examples as seed

TERMINAL = {"SUCCESS", "FAILURE", "CANCELLED"}


def conforms(answer: Any, example: Any, where: str = "$") -> list[str]:
    """Where ``answer`` lacks a field of ``example`` or holds another JSON type there."""
    if isinstance(example, dict):
        if not isinstance(answer, dict):
            return [f"{where}: object expected, got {type(answer).__name__}"]
        problems = []
        for key, value in example.items():
            if key not in answer:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += conforms(answer[key], value, f"{where}.{key}")
        return problems
    if isinstance(example, list):
        if not isinstance(answer, list) or not answer:
            return [f"{where}: non-empty array expected"]
        problems = []
        for item in example:
            kind = item.get("type") if isinstance(item, dict) else None
            candidates = [
                a for a in answer if not isinstance(a, dict) or kind is None or a.get("type") == kind
            ]
            if not candidates or conforms(candidates[0], item, f"{where}[{kind}]"):
                problems += conforms(candidates[0] if candidates else None, item, f"{where}[{kind}]")
        return problems
    numeric = (int, float)
    if isinstance(example, bool) or not isinstance(example, numeric):
        same = isinstance(answer, type(example))
    else:
        same = isinstance(answer, numeric) and not isinstance(answer, bool)
    return [] if same else [f"{where}: {type(example).__name__} expected, got {answer!r}"]


@dataclass
class Replay:
    client: TestClient
    answers: dict[str, Any]


def write_data(directory: Path) -> Path:
    directory.mkdir()
    (directory / "meters.csv").write_text(
        "meter_id,meter_type,site_id,unit\nmeter_001,electricity,nyc,kWh\nmeter1,electricity,nyc,kWh\n"
    )
    rows = ["timestamp,meter_id,consumption"]
    for meter_id, start, days in (("meter_001", "2025-04-01", 82), ("meter1", "2023-11-01", 61)):
        series = hourly_series(start, hours=24 * days, seed=len(meter_id))
        rows += [f"{t:%Y-%m-%dT%H:%M:%SZ},{meter_id},{v:.3f}" for t, v in series.items()]
    (directory / "electricity.csv").write_text("\n".join(rows) + "\n")
    temperature = hourly_series("2025-04-01", hours=24 * 82, seed=9, base=20, name="temperature")
    (directory / "temperature.csv").write_text(
        "timestamp,site_id,temperature_c\n"
        + "".join(f"{t:%Y-%m-%dT%H:%M:%SZ},nyc,{v:.2f}\n" for t, v in temperature.items())
    )
    return directory


def wait_for(client: TestClient, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while (status := client.get(f"/trainmodel/status/{task_id}").json())["status"] not in TERMINAL:
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    return status


@pytest.fixture(scope="module")
def replay() -> Iterator[Replay]:
    home = Path(tempfile.mkdtemp(prefix="ef-ct-"))  # short: the embedded Redis socket lives here
    settings = load_settings(home=home, worker_threads=2, weather={"providers": []})
    store = DuckDBSeriesStore(settings.duckdb_path)
    import_directory(store, write_data(home / "data"))
    answers: dict[str, Any] = {}
    with TestClient(create_app(settings, store=store)) as client:
        for name, example in (("train", seed.TRAIN), ("train_v2", seed.TRAIN_V2)):
            answers[name] = client.post(example.path, json=example.body)
        answers["status_early"] = client.get(f"/trainmodel/status/{answers['train_v2'].json()['task_id']}")
        answers["status"] = wait_for(client, answers["train"].json()["task_id"])
        answers["status_v2"] = wait_for(client, answers["train_v2"].json()["task_id"])
        yield Replay(client, answers)
    store.close()
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize(
    ("name", "example"),
    [
        pytest.param("train", seed.TRAIN, id="v2-trainmodel"),
        pytest.param("train_v2", seed.TRAIN_V2, id="v1-v2"),
    ],
)
def test_the_training_routes_answer_200_with_the_seed_body(
    replay: Replay, name: str, example: seed.Example
) -> None:
    response = replay.answers[name]

    assert response.status_code == 200, response.text
    assert conforms(response.json(), example.response) == []
    assert response.json()["status"] == "PENDING" and response.json()["progress"] == 0


def test_a_status_read_early_has_the_in_progress_fields(replay: Replay) -> None:
    response = replay.answers["status_early"]

    assert response.status_code == 200
    assert conforms(response.json(), seed.STATUS_IN_PROGRESS.response) == []


@pytest.mark.parametrize(
    ("name", "example"),
    [
        pytest.param("status", seed.STATUS_SUCCESS, id="v2-success"),
        pytest.param("status_v2", seed.STATUS_COMPLETED, id="v1-completed"),
    ],
)
def test_a_finished_status_has_the_seed_result(replay: Replay, name: str, example: seed.Example) -> None:
    status = replay.answers[name]

    assert status["status"] == "SUCCESS", status
    assert conforms(status, example.response) == []
    assert status["result"]["status"] == "success"


@pytest.mark.parametrize(
    "example",
    [
        pytest.param(seed.FORECAST, id="forecast"),
        pytest.param(seed.TEST_MODEL, id="test-model"),
        pytest.param(seed.HEALTH, id="health"),
        pytest.param(seed.HEALTH_WORKER, id="health-worker"),
    ],
)
def test_each_seed_exchange_answers_200_with_the_seed_fields(replay: Replay, example: seed.Example) -> None:
    response = replay.client.request(example.method, example.path, json=example.body)

    assert response.status_code == 200, response.text
    assert conforms(response.json(), example.response) == []


@pytest.mark.parametrize(
    "example",
    [
        pytest.param(seed.LOCATION, id="location"),
        pytest.param(seed.TEMPERATURE_VALIDATE, id="temperature-validate"),
        pytest.param(seed.TEMPERATURE_SERIES, id="temperature-series"),
        pytest.param(seed.DOCS, id="docs"),
        pytest.param(seed.REDOC, id="redoc"),
    ],
)
def test_each_request_the_seed_shows_is_answered_200(replay: Replay, example: seed.Example) -> None:
    response = replay.client.request(example.method, example.path, json=example.body)

    assert response.status_code == 200, response.text


def test_conforms_names_a_missing_field_and_a_changed_type() -> None:
    example = {"task_id": "x", "progress": 0, "result": {"details": {"data_points": 1}}}

    problems = conforms({"task_id": 5, "result": {"details": {}}}, example)

    assert problems == [
        "$.task_id: str expected, got 5",
        "$.progress: missing",
        "$.result.details.data_points: missing",
    ]
