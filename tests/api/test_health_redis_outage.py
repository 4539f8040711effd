"""Stop the task queue's Redis under a running API: /health/ must say so within 2 s and recover."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.api.routes.health import CACHE_TTL
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test's own, so stopping it disturbs no other test."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (scripts/servers.sh installs it)")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_health_turns_unhealthy_within_two_seconds_and_recovers_by_itself(
    private_redis: PrivateRedis, settings_factory: Callable[..., Settings]
) -> None:
    home = Path(tempfile.mkdtemp(prefix="ef-"))
    settings = settings_factory(home=home, redis_url=private_redis.url, worker_heartbeat_timeout="PT3S")
    store = DuckDBSeriesStore(settings.duckdb_path)
    try:
        with TestClient(create_app(settings, store=store)) as client:
            assert client.get("/health/").json()["status"] == "healthy"

            private_redis.stop()
            time.sleep(CACHE_TTL.total_seconds())  # the answer before the stop is reused that long
            started = time.monotonic()
            response = client.get("/health/")
            elapsed = time.monotonic() - started
            worker_started = time.monotonic()
            worker = client.get("/health/worker")
            worker_elapsed = time.monotonic() - worker_started

            assert elapsed < 2.0
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unhealthy"
            assert body["services"]["redis"] == "disconnected"
            assert body["reason"].startswith("redis: cannot reach the task queue")
            assert body["checks"]["storage"]["status"] == "ok"
            assert worker_elapsed < 2.0 and worker.status_code == 503
            assert worker.json()["worker_status"] == "unknown"
            metrics = client.get("/metrics")
            assert metrics.status_code == 200
            assert 'ef_scrape_source_up{source="redis"} 0.0' in metrics.text

            private_redis.start()  # same port, empty data: workers must re-announce themselves
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                response = client.get("/health/")
                if response.json()["status"] == "healthy":
                    break
                time.sleep(0.2)
            assert response.status_code == 200, response.json()
            assert response.json()["status"] == "healthy"
            assert client.get("/health/worker").json()["worker_count"] == 1
    finally:
        store.close()
        shutil.rmtree(home, ignore_errors=True)
