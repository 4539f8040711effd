"""Load test of the running service: forecasts, status polls and trainings at rising concurrency.

    .venv/bin/python -P bench/load.py [--levels 4,8,16] [--duration 60] [--meters 4]

Builds an ``EF_HOME`` in a temporary directory (the embedded default: DuckDB file, embedded Redis,
in-process workers), imports ``../shared/data`` when present (else synthetic meters), trains a
few meters, then starts ``energy-forecast serve`` on a free 127.0.0.1 port in a subprocess. Per
concurrency level it first drives ``GET /health/live`` alone (the trivial endpoint of the same
app, through the same middleware: the baseline), then the mix for ``--duration`` seconds: each
client loop sends a 7-day ``POST /forecast/`` ~85 % of the time and a
``GET /trainmodel/status/{id}`` poll otherwise, while one ``POST /trainmodel/`` is sent every
``--train-every`` seconds. Prints throughput, p50/p99
latency and errors per endpoint and level, and the server's RSS at start, after each level and
at the end. The load generator shares the machine's cores with the server; it uses aiohttp, which
needs about a quarter of the CPU per request that httpx's async client did (with httpx the
generator, not the server, saturated a core at 16 clients).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare_home(home: Path, meters: int) -> list[tuple[str, str, str]]:
    """Import data, train ``meters`` meters; returns (meter_id, meter_type, forecast start)."""
    from energy_forecast.domain.meters import Meter, MeterType
    from energy_forecast.domain.series import make_series
    from energy_forecast.services.ingestion import import_directory
    from energy_forecast.services.training import train_meter
    from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
    from energy_forecast.storage.model_store import FileModelStore

    store = DuckDBSeriesStore(home / "energy.duckdb")
    if DATA.is_dir():
        import_directory(store, DATA)
        source = f"{DATA}"
    else:
        index = pd.date_range("2024-01-01", periods=24 * 365, freq="h", tz="UTC")
        rng = np.random.default_rng(0)
        for i in range(meters):
            store.upsert_meters([Meter(f"synthetic_{i}", MeterType.ELECTRICITY)])
            values = 100 + 40 * np.sin(index.hour.to_numpy() / 24 * 2 * np.pi) + rng.normal(0, 3, len(index))
            store.write_readings(MeterType.ELECTRICITY, f"synthetic_{i}", make_series(index, values))
        temps = 10 + 8 * np.sin(index.dayofyear.to_numpy() / 365 * 2 * np.pi)
        store.write_temperature("default", make_series(index, temps, "temperature"))
        source = "synthetic"
    stats = store.readings_stats()
    chosen = sorted(stats.values(), key=lambda s: (-s.count, s.meter_id))[:meters]
    models = FileModelStore(home / "models")
    out = []
    for stat in chosen:
        meter = store.get_meter(stat.meter_id)
        assert meter is not None and stat.last is not None
        train_meter(store, models, meter_id=meter.meter_id, meter_type=meter.meter_type)
        out.append((meter.meter_id, meter.meter_type.value, (stat.last + pd.Timedelta(hours=1)).isoformat()))
    store.close()
    print(f"data: {source}; meters with models: {', '.join(m for m, _, _ in out)}")
    return out


class Recorder:
    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)

    async def call(
        self, name: str, session: aiohttp.ClientSession, method: str, path: str, body: object = None
    ) -> Any | None:
        """One request, read to the end; returns the JSON body of a 2xx answer, else None."""
        started = time.perf_counter()
        try:
            async with session.request(method, path, json=body) as response:
                payload = await response.read()
                status = response.status
        except aiohttp.ClientError:
            self.errors[name] += 1
            return None
        self.latencies[name].append(time.perf_counter() - started)
        if status >= 400:
            self.errors[name] += 1
            return None
        return json.loads(payload)

    def report(self, level: int, seconds: float) -> list[str]:
        rows = []
        for name in sorted(set(self.latencies) | set(self.errors)):
            lat = np.array(self.latencies[name]) * 1000
            p50, p99 = (np.percentile(lat, 50), np.percentile(lat, 99)) if len(lat) else (np.nan, np.nan)
            rate = len(lat) / seconds
            rows.append(f"{level:>5} {name:<10} {rate:>9.1f} {p50:>9.1f} {p99:>9.1f} {self.errors[name]:>6}")
        return rows


async def drive(
    base: str,
    level: int,
    seconds: float,
    meters: list[tuple[str, str, str]],
    task_ids: list[str],
    *,
    health_only: bool,
    train_every: float,
) -> Recorder:
    recorder = Recorder()
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=level + 2)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:

        async def user(seed: int) -> None:
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                if health_only:
                    await recorder.call("live", client, "GET", "/health/live")
                elif rng.random() < 0.85 or not task_ids:
                    meter_id, meter_type, start = rng.choice(meters)
                    end = (pd.Timestamp(start) + pd.Timedelta(hours=167)).isoformat()
                    body = {
                        "meter_id": meter_id,
                        "meter_type": meter_type,
                        "start_date": start,
                        "end_date": end,
                    }
                    await recorder.call("forecast", client, "POST", "/forecast/", body)
                else:
                    await recorder.call("status", client, "GET", f"/trainmodel/status/{rng.choice(task_ids)}")

        async def trainer() -> None:
            rng = random.Random(-1)
            while time.perf_counter() < deadline:
                meter_id, meter_type, _ = rng.choice(meters)
                body = {"meter_id": meter_id, "meter_type": meter_type}
                accepted = await recorder.call("train", client, "POST", "/trainmodel/", body)
                if accepted is not None:
                    task_ids.append(accepted["task_id"])
                await asyncio.sleep(train_every)

        jobs = [user(i) for i in range(level)] + ([] if health_only else [trainer()])
        await asyncio.gather(*jobs)
    return recorder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="4,8,16")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--health-duration", type=float, default=15.0)
    parser.add_argument("--meters", type=int, default=4)
    parser.add_argument("--train-every", type=float, default=10.0)
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]

    with tempfile.TemporaryDirectory(prefix="ef-load-") as tmp:
        home = Path(tmp)
        meters = prepare_home(home, args.meters)
        port = free_port()
        env = {
            **os.environ,
            "EF_HOME": str(home),
            "EF_CONFIG_DIR": str(home / "config"),
            "EF_PORT": str(port),
            # Every load client shares 127.0.0.1, so the per-client rate limit would measure 429s.
            "EF_RATE_LIMIT_PER_S": "0",
        }
        env.pop("REDIS_URL", None)
        env.pop("INFLUX_URL", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "energy_forecast", "serve"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/health/", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            else:
                raise SystemExit("server did not start")
            task_ids: list[str] = []
            asyncio.run(drive(base, 2, 5, meters, task_ids, health_only=False, train_every=2))  # warm-up
            print(f"server pid {server.pid}, RSS after warm-up {rss_mib(server.pid):.0f} MiB")
            print(f"{'level':>5} {'endpoint':<10} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>6}")
            for level in levels:
                health = asyncio.run(
                    drive(
                        base, level, args.health_duration, meters, task_ids, health_only=True, train_every=0
                    )
                )
                mix = asyncio.run(
                    drive(
                        base,
                        level,
                        args.duration,
                        meters,
                        task_ids,
                        health_only=False,
                        train_every=args.train_every,
                    )
                )
                for row in health.report(level, args.health_duration) + mix.report(level, args.duration):
                    print(row)
                print(f"      RSS after level {level}: {rss_mib(server.pid):.0f} MiB", flush=True)
        finally:
            server.terminate()
            server.wait(60)


if __name__ == "__main__":
    main()
