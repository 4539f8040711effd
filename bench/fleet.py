"""Fleet training: every meter of ../shared/data through the API and 2 worker processes.

    python bench/fleet.py [--data-dir ../shared/data] [--processes 2]
        (needs EF_TEST_REDIS_URL and EF_TEST_INFLUX_URL: scripts/servers.sh start)

Ours: readings imported into InfluxDB, ``POST /trainmodel/batch/`` on the API (task queue on the
real Redis), ``energy-forecast worker --processes N --threads 1`` training, polling
``GET /trainmodel/batch/{id}`` until every task has ended. Baseline, same run: one process calling
``fit_model`` on the same meters held in memory, one after another (no store, no queue). Prints
meters/minute for both and their ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import redis
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import MeterType
from energy_forecast.ml.training import fit_model
from energy_forecast.services.ingestion import import_directory
from energy_forecast.settings import load_settings
from energy_forecast.storage.influx_store import InfluxSeriesStore


def baseline(store: InfluxSeriesStore) -> tuple[float, int]:
    meters = store.list_meters()
    data = {
        m.meter_id: (store.read_readings(m.meter_type, m.meter_id), store.read_temperature(m.site_id))
        for m in meters
    }
    started, trained = time.perf_counter(), 0
    for meter in meters:
        readings, temperature = data[meter.meter_id]
        fit_model(readings, temperature, meter_id=meter.meter_id, meter_type=MeterType(meter.meter_type))
        trained += 1
    return time.perf_counter() - started, trained


def main() -> int:
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=repo.parent / "shared" / "data")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    redis_url, influx_url = os.environ.get("EF_TEST_REDIS_URL"), os.environ.get("EF_TEST_INFLUX_URL")
    if not redis_url or not influx_url:
        print("set EF_TEST_REDIS_URL and EF_TEST_INFLUX_URL (scripts/servers.sh start)", file=sys.stderr)
        return 2

    database = f"bench_fleet_{uuid.uuid4().hex[:8]}"
    home = Path(tempfile.mkdtemp(prefix="ef-fleet-"))
    redis.Redis.from_url(redis_url).flushdb()
    store = InfluxSeriesStore(influx_url, database, timeout_s=120)
    worker = None
    try:
        report = import_directory(store, args.data_dir)
        print(f"imported {report.total_readings} readings of {len(report.readings_written)} meters")
        base_s, base_n = baseline(store)

        env = {**os.environ, "EF_HOME": str(home), "REDIS_URL": redis_url, "INFLUX_URL": influx_url}
        env["INFLUX_BUCKET"] = database
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "energy_forecast",
                "worker",
                "--processes",
                str(args.processes),
                "--threads",
                "1",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(home / "worker.log").open("wb"),
        )
        settings = load_settings(
            home=home, redis_url=redis_url, influx={"url": influx_url, "bucket": database}
        )
        with TestClient(create_app(settings, store=store, run_workers=False)) as client:
            started = time.perf_counter()
            batch_id = client.post("/trainmodel/batch/", json={}).json()["batch_id"]
            while not (batch := client.get(f"/trainmodel/batch/{batch_id}").json())["done"]:
                time.sleep(0.2)
            ours_s = time.perf_counter() - started
        ok = batch["states"].get("SUCCESS", 0)
        print(f"states: {batch['states']}")
        ours_rate, base_rate = 60 * batch["total"] / ours_s, 60 * base_n / base_s
        print(
            f"fleet  {batch['total']} meters in {ours_s:6.1f} s = {ours_rate:6.1f} meters/min "
            f"({args.processes} worker processes, {ok} succeeded)"
        )
        print(
            f"bare   {base_n} meters in {base_s:6.1f} s = {base_rate:6.1f} meters/min "
            "(one process, fit_model in memory)"
        )
        print(f"ratio  ours/bare throughput {ours_rate / base_rate:.2f}x")
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        store.close()
        httpx.post(f"{influx_url}/query", params={"q": f'DROP DATABASE "{database}"'}, timeout=60)
        redis.Redis.from_url(redis_url).flushdb()
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
