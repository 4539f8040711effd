"""Fleet at scale: N meters trained by P separate worker processes with the S3 model store.

    python -P bench/fleet.py --meters N --processes P [--data-dir ../shared/data] [--chunk-size 50]
        (needs scripts/servers.sh start: EF_TEST_REDIS_URL, EF_TEST_INFLUX_URL, EF_TEST_S3_ENDPOINT)

The fleet: the 31 real meters of ``--data-dir`` (copy 0), then copies k = 1, 2, ... of each until
there are N: copy k of a meter is its readings times a scale in [0.75, 1.25) (the fractional part
of k times the golden ratio) shifted k x 25 hours later, at a copy of its site whose temperatures
are shifted the same, so every meter is distinct and still matches its weather. All of it is
imported into a fresh InfluxDB database.

Ours: ``POST /trainmodel/batch/`` on the API, P ``energy-forecast worker --processes 1 --threads 1``
processes, each with its own ``EF_HOME`` (as on P machines), models in S3, until every task ended;
then ``POST /forecasts/publish`` (7 days, chunks of ``--chunk-size`` meters) through the same
workers. Baseline in the same run, the bare-fit limit: the same meters' feature matrices (built
beforehand, untimed) fitted with a bare ``XGBRegressor.fit`` (same parameters, one thread) in P
parallel processes, no store, no queue; the limit is N over the summed fit time divided by P.
Also recorded: Redis commands per training task (INFO commandstats), InfluxDB query time per
meter (its httpd statistics) and S3 bytes per model (the bucket listing).
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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import httpx
import pandas as pd
import redis
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.ml.params import default_params, default_spec
from energy_forecast.ml.training import clean_readings, training_frame
from energy_forecast.services.ingestion import import_directory
from energy_forecast.services.meters import meter_calendar
from energy_forecast.settings import load_settings
from energy_forecast.storage.influx_store import InfluxSeriesStore

GOLDEN = 0.6180339887


def build_fleet(store: InfluxSeriesStore, data_dir: Path, meters: int) -> list[Meter]:
    """Import the real meters, then scaled and time-shifted copies of them until there are ``meters``."""
    import_directory(store, data_dir)
    originals = store.list_meters()
    fleet = list(originals[:meters])
    readings = {m.meter_id: store.read_readings(m.meter_type, m.meter_id) for m in originals}
    sites = {m.site_id: store.get_site(m.site_id) for m in originals}
    temperature = {s: store.read_temperature(s) for s in sites}
    copy = 0
    while len(fleet) < meters:
        copy += 1
        scale, shift = 0.75 + 0.5 * ((copy * GOLDEN) % 1.0), pd.Timedelta(hours=25 * copy)
        with store.batch():
            for site_id, site in sites.items():
                if site is not None:
                    store.upsert_site(replace(site, site_id=f"{site_id}-c{copy}"))
                shifted = temperature[site_id]
                if not shifted.empty:
                    store.write_temperature(f"{site_id}-c{copy}", shifted.set_axis(shifted.index + shift))
            batch = []
            for meter in originals[: meters - len(fleet)]:
                twin = replace(
                    meter, meter_id=f"{meter.meter_id}-c{copy}", site_id=f"{meter.site_id}-c{copy}"
                )
                series = readings[meter.meter_id]
                store.write_readings(
                    twin.meter_type, twin.meter_id, (series * scale).set_axis(series.index + shift)
                )
                batch.append(twin)
            store.upsert_meters(batch)
            fleet.extend(batch)
    return fleet


def _bare_fits(job: tuple[str, str, list[tuple[str, str]]]) -> float:
    """Seconds of bare one-thread fits of these meters' feature matrices (matrix building untimed)."""
    import xgboost as xgb

    influx_url, database, meters = job
    store = InfluxSeriesStore(influx_url, database, timeout_s=120)
    total = 0.0
    for meter_id, meter_type in meters:
        meter = store.get_meter(meter_id)
        assert meter is not None
        readings = clean_readings(store.read_readings(meter.meter_type, meter_id))
        temperature = store.read_temperature(meter.site_id)
        timezone, country = meter_calendar(store, meter)
        features, target = training_frame(
            readings,
            temperature if not temperature.empty else None,
            default_spec(meter.meter_type, timezone, country),
        )
        params = replace(default_params(MeterType(meter_type)), n_jobs=1)
        started = time.perf_counter()
        xgb.XGBRegressor(**params.xgb_kwargs()).fit(features.to_numpy(), target)
        total += time.perf_counter() - started
    store.close()
    return total


def bare_fit_limit(influx_url: str, database: str, fleet: list[Meter], processes: int) -> float:
    """Meters per minute of the bare-fit limit."""
    jobs = [
        (influx_url, database, [(m.meter_id, m.meter_type.value) for m in fleet[i::processes]])
        for i in range(processes)
    ]
    with ProcessPoolExecutor(processes) as pool:
        fit_s = sum(pool.map(_bare_fits, jobs))
    return 60 * len(fleet) / (fit_s / processes)


def redis_calls(client: redis.Redis) -> int:
    stats: dict[str, Any] = client.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values())


def influx_query_ns(influx_url: str) -> tuple[int, int]:
    body = httpx.post(f"{influx_url}/query", params={"q": "SHOW STATS FOR 'httpd'"}, timeout=30).json()
    series = body["results"][0]["series"][0]
    row = dict(zip(series["columns"], series["values"][0], strict=True))
    return int(row["queryReq"]), int(row["queryReqDurationNs"])


def wait(client: TestClient, url: str, finished: Any) -> dict[str, Any]:
    while not finished(body := client.get(url).json()):
        time.sleep(0.5)
    result: dict[str, Any] = body
    return result


def main() -> int:
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=31)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=repo.parent / "shared" / "data")
    parser.add_argument("--chunk-size", type=int, default=50)
    args = parser.parse_args()
    redis_url, influx_url = os.environ.get("EF_TEST_REDIS_URL"), os.environ.get("EF_TEST_INFLUX_URL")
    s3_endpoint = os.environ.get("EF_TEST_S3_ENDPOINT")
    if not redis_url or not influx_url or not s3_endpoint:
        print("set EF_TEST_REDIS_URL, EF_TEST_INFLUX_URL, EF_TEST_S3_ENDPOINT (scripts/servers.sh start)")
        return 2
    os.environ.setdefault("AWS_ACCESS_KEY_ID", os.environ.get("EF_TEST_S3_ACCESS_KEY_ID", ""))
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", os.environ.get("EF_TEST_S3_SECRET_ACCESS_KEY", ""))
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    run = uuid.uuid4().hex[:8]
    database, store_url = f"bench_fleet_{run}", f"s3://ef-bench/{run}"
    root = Path(tempfile.mkdtemp(prefix="ef-fleet-"))
    queue_redis = redis.Redis.from_url(redis_url)
    queue_redis.flushdb()
    store = InfluxSeriesStore(influx_url, database, timeout_s=120)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        started = time.perf_counter()
        fleet = build_fleet(store, args.data_dir, args.meters)
        print(f"fleet: {len(fleet)} meters imported in {time.perf_counter() - started:.0f} s")
        limit = bare_fit_limit(influx_url, database, fleet, args.processes)
        print(f"bare-fit limit: {limit:.1f} meters/min ({args.processes} processes, one thread each)")

        shared = {
            **os.environ,
            "REDIS_URL": redis_url,
            "INFLUX_URL": influx_url,
            "INFLUX_BUCKET": database,
            "EF_MODEL_STORE_URL": store_url,
            "EF_S3_ENDPOINT_URL": s3_endpoint,
            "EF_FIT_THREADS": "1",
            "EF_WEATHER__PROVIDERS": "[]",
        }
        for i in range(args.processes):
            home = root / f"worker{i}"
            home.mkdir()
            command = [
                sys.executable,
                "-m",
                "energy_forecast",
                "worker",
                "--processes",
                "1",
                "--threads",
                "1",
            ]
            log = (home / "worker.log").open("wb")
            workers.append(
                subprocess.Popen(command, env={**shared, "EF_HOME": str(home)}, stdout=log, stderr=log)
            )
        settings = load_settings(
            home=root / "api",
            redis_url=redis_url,
            influx={"url": influx_url, "bucket": database},
            model_store_url=store_url,
            s3_endpoint_url=s3_endpoint,
            weather={"providers": []},
            rate_limit_per_s=0,
        )
        with TestClient(create_app(settings, store=store, run_workers=False)) as client:
            calls, (queries, query_ns) = redis_calls(queue_redis), influx_query_ns(influx_url)
            started = time.perf_counter()
            accepted = client.post("/trainmodel/batch/", json={})
            batch = wait(client, f"/trainmodel/batch/{accepted.json()['batch_id']}", lambda b: b["done"])
            train_s = time.perf_counter() - started
            calls = redis_calls(queue_redis) - calls
            queries_after, query_ns_after = influx_query_ns(influx_url)
            print(f"training states: {batch['states']} in {train_s:.1f} s")
            for task in [t for t in batch["tasks"] if t["status"] != "SUCCESS"][:5]:
                print(f"  {task['status']}: {task['details'].get('meter_id')}: {task['message']}")

            started = time.perf_counter()
            published = client.post("/forecasts/publish", json={"days": 7, "chunk_size": args.chunk_size})
            publication = wait(
                client,
                f"/forecasts/publish/{published.json()['batch_id']}",
                lambda b: b["done"],
            )
            publish_s = time.perf_counter() - started
            print(
                f"publication: {publication['state']} in {publish_s:.1f} s, "
                f"{publication['published']} meters published by {len(publication['tasks'])} tasks"
            )
        bucket, prefix = store_url[5:].split("/", 1)
        s3 = boto3.client("s3", endpoint_url=s3_endpoint)
        s3_bytes = sum(
            item["Size"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
            for item in page.get("Contents", [])
        )
        n = len(fleet)
        print(f"redis: {calls / n:.1f} commands per training task (whole run: enqueue, worker, polling)")
        print(
            f"influxdb: {(query_ns_after - query_ns) / 1e6 / n:.1f} ms of query time per meter "
            f"({(queries_after - queries) / n:.1f} queries per meter)"
        )
        print(f"s3: {s3_bytes / n / 1024:.0f} KiB per model (all objects of the bucket prefix / meters)")
        rate, forecasts = 60 * n / train_s, 60 * n / publish_s
        print(
            f"fleet: {n} meters, {args.processes} processes, {rate:.1f} meters/min, "
            f"{rate / limit:.2f} x of the bare-fit limit; forecasts {forecasts:.1f} meters/min"
        )
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)
        store.close()
        httpx.post(f"{influx_url}/query", params={"q": f'DROP DATABASE "{database}"'}, timeout=60)
        queue_redis.flushdb()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
