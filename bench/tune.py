"""Choose the per-type defaults by time-series cross-validation inside the training windows.

For every meter of the development data the window ends where ``bench/accuracy.py``'s backtest
begins (``--holdout-days`` before the last reading), so the days the accuracy table scores are
never read here. Inside it, ``ml.tuning.cross_validate`` scores a candidate on three 14-day
rolling-origin folds. A coordinate search walks the axes in order, keeping the best value of each
(lowest median skill ratio over the type's meters, then lowest mean), deterministic for a given
data set (XGBoost runs with a fixed seed). A bench, not a test:

    .venv/bin/python -P bench/tune.py [--types electricity,water] [--folds 3] [--fold-days 14]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))  # appended: bench/ must not shadow stdlib
from accuracy import DEFAULT_DATA, SITES, load
from energy_forecast.domain.meters import MeterType
from energy_forecast.ml.params import ModelParams, default_params, default_spec
from energy_forecast.ml.training import clean_readings
from energy_forecast.ml.tuning import DAY, cross_validate

# Axes in search order; each value is a partial ModelParams.
AXES: list[tuple[str, list[dict[str, object]]]] = [
    ("rounds", [{"n_estimators": 100, "learning_rate": 0.1}, {"n_estimators": 200, "learning_rate": 0.05}]),
    ("depth", [{"max_depth": 4}, {"max_depth": 6}, {"max_depth": 8}]),
    ("level", [{"level_column": "roll_mean_168h"}, {"level_column": "same_hour_mean_7d"}]),
    ("recency", [{"half_life_days": None}, {"half_life_days": 180.0}]),
]


def score(candidate: ModelParams, meters: list[dict[str, object]], args: argparse.Namespace) -> list[float]:
    """Skill ratios of ``candidate`` on every meter (CV folds inside each training window)."""
    ratios = []
    for meter in meters:
        result = cross_validate(
            meter["consumption"],  # type: ignore[arg-type]
            meter["temperature"],  # type: ignore[arg-type]
            meter_id=str(meter["meter_id"]),
            meter_type=MeterType(str(meter["meter_type"])),
            end=meter["end"],  # type: ignore[arg-type]
            params=candidate,
            spec=meter["spec"],  # type: ignore[arg-type]
            folds=args.folds,
            fold_days=args.fold_days,
        )
        if result.ratio is not None:
            ratios.append(result.ratio)
    return ratios


def load_meters(kind: str, args: argparse.Namespace) -> list[dict[str, object]]:
    """The type's meters, each cut at the start of bench/accuracy.py's backtest window."""
    table, consumption, temperature = load(args.data_dir)
    meters = []
    for row in table[table["meter_type"] == kind].itertuples():
        country, timezone = SITES[row.site_id]
        readings = clean_readings(consumption[row.meter_id])
        # bench/accuracy.py's first origin: from here on nothing is read.
        end = readings.index[-1].floor("D") - (args.holdout_days - 1) * DAY
        meters.append(
            {
                "meter_id": row.meter_id,
                "meter_type": kind,
                "consumption": readings[readings.index < end],
                "temperature": temperature.get(row.site_id),
                "end": end,
                "spec": default_spec(MeterType(kind), timezone, country),
            }
        )
    return meters


def tune_type(kind: str, args: argparse.Namespace, started: float) -> ModelParams:
    """Coordinate search over ``AXES`` from the current defaults; returns the chosen parameters."""
    meters = load_meters(kind, args)
    best = default_params(MeterType(kind))
    cache: dict[str, tuple[float, float]] = {}

    def evaluate(candidate: ModelParams) -> tuple[float, float]:
        key = json.dumps(candidate.to_dict(), sort_keys=True)
        if key not in cache:
            ratios = score(candidate, meters, args)
            cache[key] = (statistics.median(ratios), statistics.fmean(ratios))
        return cache[key]

    print(f"== {kind}: {len(meters)} meters, start {json.dumps(best.to_dict())}", flush=True)
    for axis, values in AXES:
        results = []
        for value in values:
            candidate = replace(best, **value)  # type: ignore[arg-type]
            median, mean = evaluate(candidate)
            results.append((median, mean, candidate))
            print(
                f"{kind:11} {axis:8} {json.dumps(value):52} median {median:.4f} mean {mean:.4f}"
                f"  [{time.perf_counter() - started:.0f} s]",
                flush=True,
            )
        best = min(results, key=lambda r: (r[0], r[1]))[2]
    median, mean = evaluate(best)
    print(f"== {kind} chosen: median {median:.4f} mean {mean:.4f}", json.dumps(best.to_dict()), flush=True)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--types", default="electricity,water")
    parser.add_argument("--holdout-days", type=int, default=56, help="days kept for bench/accuracy.py")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--fold-days", type=int, default=14)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    for kind in args.types.split(","):
        tune_type(kind, args, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
