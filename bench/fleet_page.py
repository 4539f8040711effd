"""The dashboard's fleet page at fleet size: time to render one page of a fleet of N meters.

Builds a DuckDB store of N meters (readings for every meter, an active model for a share of
them) in a temporary home and times ``GET /`` through the real app, beside the baseline measured
in the same run: the store and model-store reads alone (``fleet_overview``), which any page of
the fleet must pay. A bench, not a test:

    .venv/bin/python -P bench/fleet_page.py [--meters 10000] [--hours 48] [--models 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from energy_forecast.api.app import create_app  # noqa: E402
from energy_forecast.domain.meters import Meter, MeterType  # noqa: E402
from energy_forecast.services.fleet import fleet_overview  # noqa: E402
from energy_forecast.settings import load_settings  # noqa: E402
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore  # noqa: E402
from energy_forecast.storage.model_store import FileModelStore  # noqa: E402


def build(home: Path, meters: int, hours: int, models: int) -> None:
    settings = load_settings(home=home)
    store = DuckDBSeriesStore(settings.duckdb_path)
    ids = [f"bldg-{i:05d}-main" for i in range(meters)]
    store.upsert_meters(
        [Meter(m, MeterType.ELECTRICITY, f"site-{i % 200:03d}", unit="kW") for i, m in enumerate(ids)]
    )
    index = pd.date_range("2024-01-01", periods=hours, freq="h", tz="UTC")
    rng = np.random.default_rng(0)
    with store.batch():
        for meter_id in ids:
            store.write_readings(
                MeterType.ELECTRICITY, meter_id, pd.Series(rng.uniform(1, 50, hours), index=index)
            )
    model_store = FileModelStore(settings.models_dir)
    window = {"start": index[0].isoformat(), "end": index[-1].isoformat()}
    for i, meter_id in enumerate(ids[:models]):
        metrics = {
            "cv_rmse_percent": float(5 + i % 60),
            "r2": 0.8,
            "cv_rmse_ratio_to_best_baseline": 0.5 + (i % 9) / 10,
        }
        model_store.save(
            MeterType.ELECTRICITY,
            meter_id,
            {"model.ubj": b"x"},
            {"metrics": metrics, "training_window": window},
        )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--hours", type=int, default=48)
    parser.add_argument("--models", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ef-bench-") as tmp:
        home = Path(tmp)
        started = time.perf_counter()
        build(home, args.meters, args.hours, args.models)
        print(
            f"built {args.meters} meters x {args.hours} h, {args.models} models "
            f"in {time.perf_counter() - started:.1f} s"
        )
        settings = load_settings(home=home, schedule={"enabled": False})
        store = DuckDBSeriesStore(settings.duckdb_path)
        models = FileModelStore(settings.models_dir)
        with TestClient(create_app(settings, store=store, run_workers=False)) as client:
            cases = {
                "baseline: fleet_overview (store + model reads)": lambda: fleet_overview(store, models),
                "GET / (page 1 of 50 rows)": lambda: client.get("/"),
                "GET /?sort=cv_rmse&order=desc&page=7": lambda: client.get(
                    "/?sort=cv_rmse&order=desc&page=7"
                ),
                "GET /?q=site-042 (search)": lambda: client.get("/?q=site-042"),
            }
            timings = {}
            for name, run in cases.items():
                run()  # warm
                samples = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    result = run()
                    samples.append(time.perf_counter() - t0)
                timings[name] = statistics.median(samples)
                size = f", {len(result.content) / 1024:.0f} KiB" if hasattr(result, "content") else ""
                print(f"{name:<48} median {timings[name] * 1000:8.1f} ms over {args.repeat}{size}")
            base = timings["baseline: fleet_overview (store + model reads)"]
            for name, seconds in timings.items():
                print(f"{name:<48} {seconds / base:5.2f}x baseline")
        store.close()


if __name__ == "__main__":
    main()
