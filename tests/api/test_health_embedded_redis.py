"""The embedded redis-server dies under a running API: /health/ says so at once, and it comes back."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.tasks.fakes import wait_for


def test_health_names_the_dead_embedded_server_and_recovers_once_it_is_restarted(
    settings_factory: Callable[..., Settings],
) -> None:
    home = Path(tempfile.mkdtemp(prefix="ef-"))  # short: the embedded Redis socket lives here
    settings = settings_factory(home=home)
    store = DuckDBSeriesStore(settings.duckdb_path)
    try:
        with TestClient(create_app(settings, store=store)) as client:
            accepted = client.post("/trainmodel/", json={"meter_id": "m1", "meter_type": "electricity"})
            assert accepted.status_code == 200, accepted.text
            healthy = client.get("/health/").json()
            server = client.app.state.embedded_redis  # type: ignore[attr-defined]

            os.kill(healthy["checks"]["redis"]["pid"], signal.SIGKILL)
            wait_for(lambda: not server.status().running, timeout=10, interval=0.01)
            down = client.get("/health/")
            back = wait_for(
                lambda: (r := client.get("/health/")).json()["status"] != "unhealthy" and r, timeout=30
            )
            task = client.get(f"/trainmodel/status/{accepted.json()['task_id']}")
    finally:
        store.close()
        shutil.rmtree(home, ignore_errors=True)

    assert healthy["checks"]["redis"]["restarts"] == 0
    assert healthy["checks"]["redis"]["appendfsync"] == "everysec"
    assert down.status_code == 503
    assert down.json()["services"]["redis"] == "disconnected"
    assert "embedded redis-server" in down.json()["reason"] and "killed by signal 9" in down.json()["reason"]
    assert back.json()["checks"]["redis"]["restarts"] == 1
    assert task.status_code == 200  # the task's record came back with the server's files
