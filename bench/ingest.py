"""Import throughput: our import path vs a bare bulk load of the same rows, in the same run.

    python bench/ingest.py [--data-dir ../shared/data] [--influx-url http://127.0.0.1:18086] [--repeat 3]

- DuckDB. Ours: ``import_directory`` (read CSVs, validate every row, register meters, upsert).
  Bare: ``pandas.read_csv`` of the same files, drop empty rows, parse stamps, one plain
  ``INSERT ... SELECT`` per table into the same schema, one transaction.
- InfluxDB (when a URL is given or ``EF_TEST_INFLUX_URL`` is set). Ours: ``import_directory``
  into ``InfluxSeriesStore``. Bare: POST of line protocol built before the clock starts, in
  batches of the same size, to ``/write``.

Rows are the non-empty readings and temperatures. Each figure is the best of ``--repeat`` runs,
each into an empty database.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx
import pandas as pd

from energy_forecast.services.ingestion import import_directory
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

FILES = {
    "electricity_consumption": ("electricity.csv", "meter_id", "consumption"),
    "water_consumption": ("water.csv", "meter_id", "consumption"),
    "temperature_data": ("temperature.csv", "site_id", "temperature_c"),
}


def load_frames(data_dir: Path) -> dict[str, pd.DataFrame]:
    """The bare way: pandas defaults, drop empty rows, parse stamps."""
    frames = {}
    for measurement, (name, key, value) in FILES.items():
        frame = pd.read_csv(data_dir / name).dropna(subset=[value])
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        frames[measurement] = frame.rename(columns={key: "key", value: "value"})[
            ["timestamp", "key", "value"]
        ]
    return frames


def best_of(repeat: int, run: Callable[[], int]) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = run()
        times.append(time.perf_counter() - started)
    return min(times), rows


def duckdb_ours(data_dir: Path, workdir: Path) -> int:
    store = DuckDBSeriesStore(workdir / f"ours_{uuid.uuid4().hex}.duckdb")
    try:
        report = import_directory(store, data_dir)
        return report.total_readings + sum(report.temperature_written.values())
    finally:
        store.close()


def duckdb_bare(data_dir: Path, workdir: Path) -> int:
    path = workdir / f"bare_{uuid.uuid4().hex}.duckdb"
    DuckDBSeriesStore(path).close()  # the same schema as ours
    frames = load_frames(data_dir)
    con = duckdb.connect(str(path))
    rows = 0
    con.execute("BEGIN TRANSACTION")
    for measurement, frame in frames.items():
        naive = frame["timestamp"].dt.tz_localize(None)
        if measurement == "temperature_data":
            staged = pd.DataFrame({"site_id": frame["key"], "ts": naive, "temperature": frame["value"]})
            con.register("staged", staged)
            con.execute("INSERT INTO temperature SELECT * FROM staged")
        else:
            meter_type = measurement.removesuffix("_consumption")
            staged = pd.DataFrame(
                {
                    "meter_type": meter_type,
                    "meter_id": frame["key"],
                    "ts": naive,
                    "consumption": frame["value"],
                }
            )
            con.register("staged", staged)
            con.execute("INSERT INTO readings SELECT * FROM staged")
        con.unregister("staged")
        rows += len(frame)
    con.execute("COMMIT")
    con.close()
    return rows


def line_protocol(frames: dict[str, pd.DataFrame]) -> list[str]:
    lines: list[str] = []
    for measurement, frame in frames.items():
        tag = "site_id" if measurement == "temperature_data" else "meter_id"
        field = "temperature" if measurement == "temperature_data" else "consumption"
        seconds = frame["timestamp"].dt.as_unit("s").astype("int64").astype(str)
        values = frame["value"].map(repr)
        lines.extend(
            (
                measurement + "," + tag + "=" + frame["key"] + " " + field + "=" + values + " " + seconds
            ).tolist()
        )
    return lines


def influx_bare(url: str, lines: list[str], batch: int) -> int:
    database = f"bench_bare_{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=url, timeout=120) as client:
        client.post("/query", params={"q": f'CREATE DATABASE "{database}"'}).raise_for_status()
        try:
            for start in range(0, len(lines), batch):
                body = "\n".join(lines[start : start + batch])
                client.post(
                    "/write", params={"db": database, "precision": "s"}, content=body
                ).raise_for_status()
        finally:
            client.post("/query", params={"q": f'DROP DATABASE "{database}"'})
    return len(lines)


def influx_ours(url: str, data_dir: Path, batch: int) -> int:
    from energy_forecast.storage.influx_store import InfluxSeriesStore

    database = f"bench_ours_{uuid.uuid4().hex[:8]}"
    store = InfluxSeriesStore(url, database, batch_size=batch, timeout_s=120)
    try:
        report = import_directory(store, data_dir)
        return report.total_readings + sum(report.temperature_written.values())
    finally:
        store.close()
        httpx.post(f"{url}/query", params={"q": f'DROP DATABASE "{database}"'}, timeout=60)


def report(name: str, ours: tuple[float, int], bare: tuple[float, int]) -> None:
    ours_rate, bare_rate = ours[1] / ours[0], bare[1] / bare[0]
    print(
        f"{name:<9} rows={ours[1]:>8}  ours {ours[0]:6.2f} s {ours_rate:>10,.0f} rows/s   "
        f"bare {bare[0]:6.2f} s {bare_rate:>10,.0f} rows/s   "
        f"ours/bare throughput {ours_rate / bare_rate:.2f}x"
    )


def main() -> int:
    repo = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=repo.parent / "shared" / "data")
    parser.add_argument("--influx-url", default=os.environ.get("EF_TEST_INFLUX_URL"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50_000)
    args = parser.parse_args()
    if not (args.data_dir / "electricity.csv").is_file():
        print(f"no data at {args.data_dir}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bare = best_of(args.repeat, lambda: duckdb_bare(args.data_dir, workdir))
        ours = best_of(args.repeat, lambda: duckdb_ours(args.data_dir, workdir))
        if ours[1] != bare[1]:
            print(f"row counts differ: ours {ours[1]} bare {bare[1]}", file=sys.stderr)
            return 1
        report("duckdb", ours, bare)

    if args.influx_url:
        lines = line_protocol(load_frames(args.data_dir))
        bare = best_of(args.repeat, lambda: influx_bare(args.influx_url, lines, args.batch))
        ours = best_of(args.repeat, lambda: influx_ours(args.influx_url, args.data_dir, args.batch))
        if ours[1] != bare[1]:
            print(f"row counts differ: ours {ours[1]} bare {bare[1]}", file=sys.stderr)
            return 1
        report("influxdb", ours, bare)
    else:
        print("influxdb  skipped: pass --influx-url or set EF_TEST_INFLUX_URL (scripts/servers.sh start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
