"""Latency of POST /forecast/ for a 7-day future window on a trained model.

Builds a synthetic meter with a year of hourly readings and site temperature in a temporary
EF_HOME, trains it once, then times repeated requests through the full app (TestClient, DuckDB
store, file model store, bundle cache) and, in the same run, the trivial ``GET /health/live`` as the
baseline of framework overhead. Prints median and p90 of each and their ratio.

    .venv/bin/python bench/forecast_latency.py [--calls 50] [--days 365]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
warnings.filterwarnings("ignore", message="Using .httpx. with .starlette.testclient")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from energy_forecast.api.app import create_app  # noqa: E402
from energy_forecast.domain.meters import Meter, MeterType  # noqa: E402
from energy_forecast.domain.series import make_series  # noqa: E402
from energy_forecast.services.training import train_meter  # noqa: E402
from energy_forecast.settings import load_settings  # noqa: E402
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore  # noqa: E402
from energy_forecast.storage.model_store import FileModelStore  # noqa: E402


def synthetic(hours: int, seed: int, base: float) -> tuple[pd.DatetimeIndex, np.ndarray]:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2024-01-01", periods=hours, freq="h", tz="UTC")
    hour, weekday = index.hour.to_numpy(), index.day_of_week.to_numpy()
    values = base * (1 + 0.4 * np.sin((hour - 6) / 24 * 2 * np.pi)) * np.where(weekday >= 5, 0.7, 1.0)
    return index, np.clip(values + rng.normal(0, base * 0.03, hours), 0, None)


def timed(call: object, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def describe(name: str, samples: list[float]) -> tuple[float, float]:
    median = statistics.median(samples)
    p90 = statistics.quantiles(samples, n=10)[-1]
    print(f"{name:<28} median {median:7.1f} ms   p90 {p90:7.1f} ms   ({len(samples)} calls)")
    return median, p90


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--days", type=int, default=365, help="history length of the meter")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="ef-bench-"))
    settings = load_settings(home=home)
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters([Meter("bench1", MeterType.ELECTRICITY, "site1")])
    index, values = synthetic(24 * args.days, 1, 100.0)
    store.write_readings(MeterType.ELECTRICITY, "bench1", make_series(index, values, "consumption"))
    _, temps = synthetic(24 * args.days, 2, 10.0)
    store.write_temperature("site1", make_series(index, temps, "temperature"))
    started = time.perf_counter()
    train_meter(
        store, FileModelStore(settings.models_dir), meter_id="bench1", meter_type=MeterType.ELECTRICITY
    )
    print(f"trained on {len(index)} hours in {time.perf_counter() - started:.2f} s")

    first = (index[-1] + pd.Timedelta(hours=1)).strftime("%Y-%m-%d")
    last = (index[-1] + pd.Timedelta(days=7)).strftime("%Y-%m-%d")
    body = {"meter_id": "bench1", "meter_type": "electricity", "start_date": first, "end_date": last}
    with TestClient(create_app(settings, store=store, start_tasks=False)) as client:
        response = client.post("/forecast/", json=body)  # warm-up: parses and caches the bundle
        response.raise_for_status()
        points = response.json()["forecast_data"]
        assert len(points) == 168 and all("lower" in p and "temperature" in p for p in points)
        client.get("/health/live").raise_for_status()
        forecast_ms = timed(lambda: client.post("/forecast/", json=body).raise_for_status(), args.calls)
        health_ms = timed(lambda: client.get("/health/live").raise_for_status(), args.calls)
    store.close()

    print(f"7-day window: {len(points)} hourly forecast points, history {args.days} days")
    median, _ = describe("POST /forecast/ (7 days)", forecast_ms)
    baseline, _ = describe("GET /health/live (baseline)", health_ms)
    print(f"ratio forecast/health (median): {median / baseline:.1f}x   target: median < 100 ms")


if __name__ == "__main__":
    main()
