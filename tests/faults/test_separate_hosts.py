"""Scale-out for real: an API and two workers with separate homes share only Redis, InfluxDB and S3.

As on three machines: each process has its own ``EF_HOME`` and nothing else in common but the
three services. A fleet batch trains while one worker is SIGKILLed and a new one joins; the API
host then lists every meter's active model and forecasts from it, and no home holds a model file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.storage.influx_store import InfluxSeriesStore
from tests.conftest import hourly_series
from tests.faults.servers import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
METERS = [f"host{i}" for i in range(6)]


def seed(influx_url: str, database: str) -> None:
    store = InfluxSeriesStore(influx_url, database)
    store.upsert_meters([Meter(m, MeterType.ELECTRICITY, "s1") for m in METERS])
    for i, meter_id in enumerate(METERS):
        store.write_readings(MeterType.ELECTRICITY, meter_id, hourly_series(hours=24 * 28, seed=i))
    store.write_temperature("s1", hourly_series(hours=24 * 28, seed=99, base=10, name="temperature"))
    store.close()


def spawn(module: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *module], cwd=REPO, env=env, stdout=out, stderr=out, stdin=subprocess.DEVNULL
        )


def wait_json(client: httpx.Client, url: str, ready: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = client.get(url)
            if response.status_code == 200 and ready(body := response.json()):
                result: dict[str, Any] = body
                return result
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} not ready in {timeout}s"
        time.sleep(0.2)


def test_a_batch_survives_a_killed_worker_and_the_api_host_serves_every_model_from_s3(
    flushed_redis_url: str,
    influx_url: str,
    influx_database: str,
    s3_endpoint: str,
    s3_store_url: str,
    tmp_path: Path,
) -> None:
    seed(influx_url, influx_database)
    shared = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OMP_WAIT_POLICY": "PASSIVE",
        "REDIS_URL": flushed_redis_url,
        "INFLUX_URL": influx_url,
        "INFLUX_BUCKET": influx_database,
        "EF_MODEL_STORE_URL": s3_store_url,
        "EF_S3_ENDPOINT_URL": s3_endpoint,
        "EF_WORKER_HEARTBEAT_TIMEOUT": "PT2S",
        "EF_FIT_THREADS": "1",
        "EF_WEATHER__PROVIDERS": "[]",
    }
    homes = {name: tmp_path / name for name in ("api", "worker1", "worker2", "worker3")}
    port = free_port()
    processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str, module: list[str]) -> None:
        homes[name].mkdir()
        env = {**shared, "EF_HOME": str(homes[name])}
        processes[name] = spawn(module, env, tmp_path / f"{name}.log")

    try:
        start("api", ["-m", "energy_forecast", "serve", "--host", "127.0.0.1", "--port", str(port)])
        start("worker1", ["-m", "tests.faults.worker_main"])
        start("worker2", ["-m", "tests.faults.worker_main"])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
            wait_json(api, "/health/live", lambda body: True, timeout=60)
            accepted = api.post("/trainmodel/batch/", json={"meter_type": "electricity"})
            assert accepted.status_code == 202, accepted.text
            batch_url = f"/trainmodel/batch/{accepted.json()['batch_id']}"

            # SIGKILL one worker host as soon as the fleet is under way; a new one joins.
            wait_json(api, batch_url, lambda b: b["states"].get("PENDING", 0) < len(METERS))
            processes["worker1"].send_signal(signal.SIGKILL)
            processes["worker1"].wait(10)
            start("worker3", ["-m", "tests.faults.worker_main"])
            batch = wait_json(api, batch_url, lambda b: b["done"], timeout=180)
            assert batch["states"] == {"SUCCESS": len(METERS)}, batch

            listed = api.get("/models/", params={"meter_type": "electricity"}).json()
            forecasts = [
                api.post(
                    "/forecast/",
                    json={
                        "meter_id": m,
                        "meter_type": "electricity",
                        "start_date": "2024-01-29",
                        "end_date": "2024-01-30",
                    },
                ).json()
                for m in METERS
            ]
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(10)

    assert sorted(row["meter_id"] for row in listed) == METERS
    assert all(row["active"] and row["version"] >= 1 for row in listed)
    for body in forecasts:
        shown = {k: v for k, v in body.items() if k != "forecast_data"}
        assert body["substituted"] is False and (body["model_version"] or 0) >= 1, shown
    model_files = [
        p
        for home in homes.values()
        for p in home.rglob("*")
        if (p.suffix in {".ubj", ".json"} and p.name != "serve.json") or p.name == "models"
    ]
    assert model_files == []  # no host keeps a model: every one is in the bucket
