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
from energy_forecast.domain.meters import MeterType  # noqa: E402
from energy_forecast.services.fleet import fleet_overview  # noqa: E402
from energy_forecast.services.ingestion import import_directory  # noqa: E402
from energy_forecast.settings import load_settings  # noqa: E402
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore  # noqa: E402
from energy_forecast.storage.model_store import FileModelStore  # noqa: E402


def build(home: Path, meters: int, hours: int, models: int) -> None:
    """The fleet through the bulk import path (one CSV of every meter's readings), then models."""
    settings = load_settings(home=home)
    ids = [f"bldg-{i:05d}-main" for i in range(meters)]
    data = home / "data"
    data.mkdir()
    (data / "meters.csv").write_text(
        "meter_id,meter_type,site_id,unit\n"
        + "".join(f"{m},electricity,site-{i % 200:03d},kW\n" for i, m in enumerate(ids)),
        encoding="utf-8",
    )
    index = pd.date_range("2024-01-01", periods=hours, freq="h", tz="UTC")
    stamps = index.strftime("%Y-%m-%dT%H:%M:%SZ")
    values = np.random.default_rng(0).uniform(1, 50, (meters, hours))
    frame = pd.DataFrame(
        {
            "timestamp": np.tile(stamps, meters),
            "meter_id": np.repeat(ids, hours),
            "consumption": values.ravel().round(2),
        }
    )
    frame.to_csv(data / "electricity.csv", index=False)
    store = DuckDBSeriesStore(settings.duckdb_path)
    import_directory(store, data)
    store.close()
    model_store = FileModelStore(settings.models_dir)
    window = {"start": index[0].isoformat(), "end": index[-1].isoformat()}
    for i, meter_id in enumerate(ids[:models]):
        ratio = 0.5 + (i % 9) / 10
        metrics = {"cv_rmse_percent": float(5 + i % 60), "r2": 0.8, "cv_rmse_ratio_to_best_baseline": ratio}
        bundle = {"metrics": metrics, "training_window": window}
        model_store.save(MeterType.ELECTRICITY, meter_id, {"model.ubj": b"x"}, bundle)


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
