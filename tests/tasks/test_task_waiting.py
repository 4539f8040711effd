"""A queued task says why it waits: how many tasks are ahead of it in the queue its message is in."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from energy_forecast.api import sse
from tests.tasks.conftest import TaskEnv
from tests.tasks.fakes import FakeTraining, wait_for

pytestmark = pytest.mark.integration


def test_status_of_a_queued_task_counts_the_tasks_ahead_in_its_queue(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    env = task_env()
    ids = [env.queue.enqueue_training(f"m{i}", "electricity") for i in range(3)]
    queue_name = env.actors.train_meter.queue_name  # whatever queue the actor sends to

    statuses = [env.queue.read_status(task_id) for task_id in ids]

    assert [s["queue"]["ahead"] for s in statuses] == [0, 1, 2]
    assert all(s["queue"]["queue"] == queue_name and s["queue"]["waiting"] == 3 for s in statuses)
    assert statuses[0]["waiting"] == f"next in queue {queue_name!r}"
    assert statuses[2]["waiting"] == f"queued behind 2 other tasks in queue {queue_name!r}"
    assert statuses[2]["message"] == "Task submitted"  # the seed's message is kept

    env.start_worker()
    done = wait_for(lambda: (s := env.queue.read_status(ids[2])) and s["status"] == "SUCCESS" and s)
    assert "queue" not in done and "waiting" not in done


def test_the_position_follows_the_message_into_another_queue(
    task_env: Callable[..., TaskEnv], fake: FakeTraining
) -> None:
    env = task_env()
    env.queue.enqueue_training("m0", "electricity")
    message = env.actors.train_meter.message_with_options(
        kwargs={"meter_id": "m1", "meter_type": "electricity", "start": None, "end": None}
    ).copy(queue_name="training_elsewhere")
    env.broker.declare_queue("training_elsewhere")
    from energy_forecast.domain.tasks import TaskProgress, TaskState

    env.queue.store.write(TaskProgress(message.message_id, TaskState.PENDING, 0, "Task submitted", {}))
    env.broker.enqueue(message)

    status = env.queue.read_status(message.message_id)

    assert status["queue"] == {"queue": "training_elsewhere", "ahead": 0, "waiting": 1}


def test_the_stream_of_a_queued_task_says_where_it_waits_and_when_that_moves(
    task_env: Callable[..., TaskEnv], fake: FakeTraining, redis_url: str
) -> None:
    from energy_forecast.api.streams import StreamReader

    env = task_env()
    first = env.queue.enqueue_training("m0", "electricity")
    second = env.queue.enqueue_training("m1", "electricity")

    async def read(max_s: float, between: Callable[[], None] | None = None) -> list[str]:
        async def connected() -> bool:
            return False

        chunks = []
        reader = StreamReader.from_url(redis_url, max_connections=2)  # bound to this event loop
        reader.namespace = env.broker.namespace
        try:
            stream = sse.task_events(
                reader, second, "0", connected, heartbeat=timedelta(milliseconds=100),
                max_duration=timedelta(seconds=max_s),
            )  # fmt: skip
            async for chunk in stream:
                chunks.append(chunk)
                if between is not None and chunk.startswith("id:"):
                    between()
                    between = None
        finally:
            await reader.aclose()
        return chunks

    def take_the_first() -> None:
        # The task ahead leaves the queue (as a worker taking it would).
        env.queue.client.lpop(f"{env.broker.namespace}:{env.actors.train_meter.queue_name}")

    chunks = asyncio.run(read(1.0, take_the_first))

    events = [c for c in chunks if c.startswith(("id:", "data:"))]
    first_event = json.loads(events[0].split("data: ", 1)[1])
    assert first_event["status"] == "PENDING" and first_event["queue"]["ahead"] == 1
    assert "queued behind 1 other task" in first_event["waiting"]
    moved = [json.loads(c.split("data: ", 1)[1]) for c in events[1:]]
    assert moved and moved[0]["queue"]["ahead"] == 0  # position updates carry no id: resume is unaffected
    assert all(c.startswith("data:") for c in events[1:])
    assert first  # the task ahead exists


def test_the_http_status_of_a_queued_training_says_how_many_are_ahead(redis_url: str, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from energy_forecast.api.app import create_app
    from energy_forecast.domain.meters import Meter, MeterType
    from energy_forecast.settings import load_settings
    from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

    settings = load_settings(home=tmp_path / "home", redis_url=redis_url, schedule={"enabled": False})
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    store.upsert_meters([Meter(f"m{i}", MeterType.ELECTRICITY, "s1") for i in range(3)])
    try:
        with TestClient(create_app(settings, store=store, run_workers=False)) as client:
            ids = [
                client.post("/trainmodel/", json={"meter_id": f"m{i}", "meter_type": "electricity"}).json()[
                    "task_id"
                ]
                for i in range(3)
            ]
            status = client.get(f"/trainmodel/status/{ids[2]}").json()
            active = client.get("/trainmodel/active_task").json()
    finally:
        store.close()

    assert status["status"] == "PENDING"
    assert status["queue"]["ahead"] == 2 and status["queue"]["waiting"] == 3
    assert status["waiting"].startswith("queued behind 2 other tasks in queue")
    assert all("queue" not in task for task in active)  # the list stays light: one lookup per status
