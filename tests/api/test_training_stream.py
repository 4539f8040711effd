"""The training stream as an SSE client sees it: data-only events with ids, resumable, closing politely."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api import sse
from energy_forecast.api.app import create_app
from energy_forecast.api.streams import StreamReader
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.tasks import TaskState
from energy_forecast.settings import Settings, load_settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.conftest import hourly_series

STAGES = [s.value for s in TaskState if not s.terminal] + ["SUCCESS"]


def parse_stream(text: str) -> list[dict[str, str]]:
    """SSE blocks as field -> value (comments under ':'), as the WHATWG parser splits them."""
    blocks = []
    for raw in text.replace("\r\n", "\n").split("\n\n"):
        if not raw.strip():
            continue
        fields: dict[str, str] = {}
        for line in raw.split("\n"):
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        blocks.append(fields)
    return blocks


def data_events(blocks: list[dict[str, str]]) -> list[tuple[str, dict[str, Any]]]:
    return [(b["id"], json.loads(b["data"])) for b in blocks if "data" in b]


@pytest.fixture
def home() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ef-"))  # short: the embedded Redis socket lives here
    yield path
    shutil.rmtree(path, ignore_errors=True)


def seeded_store(settings: Settings) -> DuckDBSeriesStore:
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters([Meter("bldg1", MeterType.ELECTRICITY, "s1")])
    store.write_readings(MeterType.ELECTRICITY, "bldg1", hourly_series("2024-01-01", hours=24 * 30, seed=1))
    return store


@pytest.fixture(scope="module")
def finished() -> Iterator[tuple[TestClient, str]]:
    """A client and the id of a training task that has succeeded (one training for the module)."""
    home = Path(tempfile.mkdtemp(prefix="ef-"))
    settings = load_settings(home=home, worker_threads=1)
    store = seeded_store(settings)
    with TestClient(create_app(settings, store=store)) as client:
        accepted = client.post("/trainmodel/", json={"meter_id": "bldg1", "meter_type": "electricity"})
        task_id = accepted.json()["task_id"]
        deadline = time.monotonic() + 120
        while client.get(f"/trainmodel/status/{task_id}").json()["status"] not in sse.TERMINAL:
            assert time.monotonic() < deadline, "training did not finish"
            time.sleep(0.1)
        yield client, task_id
    store.close()
    shutil.rmtree(home, ignore_errors=True)


def test_every_state_is_a_default_event_with_an_id_and_the_last_carries_the_result(
    finished: tuple[TestClient, str],
) -> None:
    client, task_id = finished

    response = client.get(f"/trainmodel/stream/{task_id}")
    blocks = parse_stream(response.text)

    assert response.headers["content-type"].startswith("text/event-stream")
    assert not any("event" in b for b in blocks)
    events = data_events(blocks)
    assert [record["status"] for _, record in events] == STAGES
    assert all(event_id for event_id, _ in events)
    status = client.get(f"/trainmodel/status/{task_id}").json()
    assert events[-1][1] == status
    assert events[-1][1]["result"]["details"]["data_points"] == 24 * 30


def test_a_reconnect_with_last_event_id_resumes_after_that_event(finished: tuple[TestClient, str]) -> None:
    client, task_id = finished
    first = data_events(parse_stream(client.get(f"/trainmodel/stream/{task_id}").text))

    resumed = data_events(
        parse_stream(client.get(f"/trainmodel/stream/{task_id}", headers={"Last-Event-ID": first[1][0]}).text)
    )

    assert resumed == first[2:]


def test_a_finished_stream_sends_what_is_left_and_a_long_retry(finished: tuple[TestClient, str]) -> None:
    client, task_id = finished
    last_id = data_events(parse_stream(client.get(f"/trainmodel/stream/{task_id}").text))[-1][0]

    response = client.get(f"/trainmodel/stream/{task_id}", headers={"Last-Event-ID": last_id})
    blocks = parse_stream(response.text)

    assert data_events(blocks) == []
    assert int(blocks[-1]["retry"]) >= 3_600_000


@pytest.mark.parametrize("bad", ["abc", "1-2-3", "-1"])
def test_a_malformed_last_event_id_is_refused(finished: tuple[TestClient, str], bad: str) -> None:
    client, task_id = finished

    response = client.get(f"/trainmodel/stream/{task_id}", headers={"Last-Event-ID": bad})

    assert response.status_code == 422


def test_a_waiting_task_gets_keep_alive_comments_between_events(
    settings_factory: Callable[..., Settings], home: Path
) -> None:
    # No workers: the task stays PENDING, so after its one event only heartbeats can follow.
    settings = settings_factory(home=home)
    store = seeded_store(settings)
    with TestClient(create_app(settings, store=store, run_workers=False)) as client:
        task_id = client.post("/trainmodel/", json={"meter_id": "bldg1", "meter_type": "electricity"}).json()[
            "task_id"
        ]
        redis_url = client.app.state.embedded_redis.url  # type: ignore[attr-defined]

        async def first_chunks(count: int) -> list[str]:
            async def disconnected() -> bool:
                return False

            reader = StreamReader.from_url(redis_url, max_connections=2)  # bound to this event loop
            chunks = []
            stream = sse.task_events(reader, task_id, "0", disconnected, heartbeat=timedelta(milliseconds=50))
            try:
                async for chunk in stream:
                    chunks.append(chunk)
                    if len(chunks) == count:
                        await stream.aclose()
                        return chunks
                return chunks
            finally:
                await reader.aclose()

        chunks = asyncio.run(first_chunks(4))
    store.close()

    assert chunks[0].startswith("retry: ")
    assert json.loads(parse_stream(chunks[1])[0]["data"])["status"] == "PENDING"
    assert chunks[2:] == [": keep-alive\n\n", ": keep-alive\n\n"]


def test_a_stream_ends_after_its_maximum_duration_and_asks_for_a_quick_reconnect(
    settings_factory: Callable[..., Settings], home: Path
) -> None:
    settings = settings_factory(home=home, stream_max_duration=timedelta(seconds=1))
    store = seeded_store(settings)
    with TestClient(create_app(settings, store=store, run_workers=False)) as client:
        task_id = client.post("/trainmodel/", json={"meter_id": "bldg1", "meter_type": "electricity"}).json()[
            "task_id"
        ]

        blocks = parse_stream(client.get(f"/trainmodel/stream/{task_id}").text)
    store.close()

    assert [record["status"] for _, record in data_events(blocks)] == ["PENDING"]
    assert [int(b["retry"]) for b in blocks if "retry" in b] == [sse.RUNNING_RETRY_MS]
