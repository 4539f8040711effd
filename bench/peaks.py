"""Backtest of day-ahead daily peak forecasts on the development data set (``ml.peak_backtest``).

For each meter of the chosen sites: the forecaster the product answers with (its own model and
its best seasonal naive in an ensemble; no global member is trained here) is trained on the
readings before the first of the last ``--days`` daily origins; from each origin, scenarios (the
forecast's calibrated quantiles ordered by the forecaster's hold-out residual days, as served; or
``--method residual``: those days added as they are) give the next local day's peak (P10/P50/P90, likely hour)
and the probability it exceeds (a) the month-to-date peak and (b) a fixed threshold (the 75th
percentile of the training days' peaks). Printed per meter and pooled per site: precision,
recall, F1 and Brier score of the exceedance events, the peak's MAPE and P10-P90 coverage, the
peak hour's mean error and share within one hour, beside the seasonal-naive peak (same weekday a
week before) on the same days. A bench, not a test; run it niced:

    nice -n 10 .venv/bin/python -P bench/peaks.py [--data-dir ../shared/data]
        [--sites ucam_bedford,bwdf_it] [--meters a,b] [--days 28] [--scenarios 200] [--json out.json]
        [--method copula|residual] [--keep-days 28]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Before XGBoost loads OpenMP: its threads otherwise spin while the other benches use the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from accuracy import DEFAULT_DATA, SITES, load  # the development data, read as every bench reads it
from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import InsufficientDataError
from energy_forecast.ml.peak_backtest import PeakBacktest, peak_backtest
from energy_forecast.ml.peak_scores import PeakOutcome, outcome_records, peak_scores
from energy_forecast.ml.residual_days import KEEP_DAYS


def fmt(value: float | int | None, spec: str = "6.2f") -> str:
    return " " * (len(format(0.0, spec)) - 1) + "-" if value is None else format(value, spec)


def row(label: str, scores: dict, naive: dict | None = None) -> str:
    naive = naive or {}
    return (
        f"{label:<16} {scores.get('days', 0):>4} {fmt(scores.get('precision'), '5.2f')} "
        f"{fmt(scores.get('recall'), '5.2f')} {fmt(scores.get('f1'), '5.2f')} "
        f"{fmt(scores.get('brier'), '5.3f')} "
        f"{fmt(scores.get('peak_mape_percent'), '6.1f')} {fmt(scores.get('peak_p10_p90_coverage'), '5.2f')} "
        f"{fmt(scores.get('hour_mae'), '5.2f')} {fmt(scores.get('hour_within_1h'), '5.2f')} "
        f"{fmt(naive.get('peak_mape_percent'), '6.1f')} {fmt(naive.get('hour_mae'), '5.2f')} "
        f"{fmt(naive.get('hour_within_1h'), '5.2f')}"
    )


HEADER = (
    f"{'':<16} {'days':>4} {'prec':>5} {'rec':>5} {'F1':>5} {'brier':>5} {'MAPE%':>6} {'cov80':>5} "
    f"{'hMAE':>5} {'h<=1':>5} {'nMAPE':>6} {'nhMAE':>5} {'nh<=1':>5}"
)


def naive_pooled(
    results: list[PeakBacktest], consumption: dict[str, pd.Series], zones: dict[str, str]
) -> dict:
    """Seasonal-naive peak MAPE and hour errors pooled over the meters' scored days."""
    errors, hours = [], []
    for result in results:
        readings = consumption[result.meter_id]
        local = readings.index.tz_convert(zones[result.meter_id]).strftime("%Y-%m-%d")
        by_day = pd.DataFrame({"v": readings.to_numpy(), "d": local}, index=readings.index).groupby("d")["v"]
        peaks, at = by_day.max(), by_day.idxmax()
        for outcome in result.outcomes["fixed"]:
            before = (pd.Timestamp(outcome.day) - pd.Timedelta(days=7)).strftime("%Y-%m-%d")
            if before in peaks.index and outcome.actual_peak:
                errors.append(abs(peaks[before] - outcome.actual_peak) / abs(outcome.actual_peak) * 100)
                hours.append(
                    abs((at[before] + pd.Timedelta(days=7) - outcome.actual_hour).total_seconds()) / 3600
                )
    if not errors:
        return {}
    return {
        "peak_mape_percent": float(np.mean(errors)),
        "hour_mae": float(np.mean(hours)),
        "hour_within_1h": float(np.mean(np.array(hours) <= 1)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sites", default="ucam_bedford,bwdf_it")
    parser.add_argument(
        "--meters", default=None, help="comma-separated meter ids (default: all of the sites)"
    )
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--scenarios", type=int, default=200)
    parser.add_argument(
        "--method",
        choices=("copula", "residual"),
        default="copula",
        help="copula: calibrated quantiles ranked by residual days (served); residual: the days as they are",
    )
    parser.add_argument("--keep-days", type=int, default=KEEP_DAYS, help="residual days kept")
    parser.add_argument("--json", type=Path, default=None, help="write every scored day here")
    parser.add_argument(
        "--pool",
        default=None,
        help="comma-separated --json files of earlier runs: print their pooled scores only",
    )
    args = parser.parse_args(argv)
    if args.pool:
        return pool([Path(p) for p in args.pool.split(",")], pd.read_csv(args.data_dir / "meters.csv"))

    meters, consumption, temperature = load(args.data_dir)
    chosen = meters[meters["site_id"].isin(args.sites.split(","))]
    if args.meters:
        chosen = chosen[chosen["meter_id"].isin(args.meters.split(","))]
    zones = {m: SITES[s][1] for m, s in zip(chosen["meter_id"], chosen["site_id"], strict=True)}
    by_site: dict[str, list[PeakBacktest]] = {}
    started = time.perf_counter()
    print(
        f"daily peak backtest, last {args.days} days, {args.scenarios} scenarios, "
        f"{args.method} with {args.keep_days} residual days"
    )
    print(
        "thresholds: mtd = month-to-date peak, fix = fixed (P75 of training day peaks); n* = seasonal naive"
    )
    print(HEADER)
    for meter_id, meter_type, site in chosen[["meter_id", "meter_type", "site_id"]].itertuples(index=False):
        country, timezone = SITES[site]
        try:
            result = peak_backtest(
                consumption[meter_id], temperature.get(site), meter_id=meter_id,
                meter_type=MeterType(meter_type), timezone=timezone, country=country, days=args.days,
                size=args.scenarios, copula=args.method == "copula", keep_days=args.keep_days,
            )  # fmt: skip
        except InsufficientDataError as exc:
            print(f"{meter_id:<16} skipped: {exc.message}")
            continue
        by_site.setdefault(site, []).append(result)
        if args.json:  # after every meter, so an interrupted run keeps what it measured
            write_json(args.json, by_site, consumption, zones)
        print(row(f"{meter_id[:12]} mtd", result.scores["month_to_date"]))
        print(row(f"{meter_id[:12]} fix", result.scores["fixed"], naive_pooled([result], consumption, zones)))
        sys.stdout.flush()
    print("\npooled per site (every scored day of every meter)")
    print(HEADER)
    for site, results in by_site.items():
        naive = naive_pooled(results, consumption, zones)
        for rule in ("month_to_date", "fixed"):
            pooled = peak_scores([o for r in results for o in r.outcomes[rule]])
            print(row(f"{site[:11]} {rule[:3]}", pooled, naive if rule == "fixed" else None))
    print(f"\n{sum(len(r) for r in by_site.values())} meters in {time.perf_counter() - started:.0f} s")
    if args.json:
        write_json(args.json, by_site, consumption, zones)
    return 0


def write_json(
    path: Path,
    by_site: dict[str, list[PeakBacktest]],
    consumption: dict[str, pd.Series],
    zones: dict[str, str],
) -> None:
    """Every scored day per meter and rule, and the pooled scores per site, as JSON."""
    summary = {}
    for site, results in by_site.items():
        naive = naive_pooled(results, consumption, zones)
        for rule in ("month_to_date", "fixed"):
            pooled = peak_scores([o for r in results for o in r.outcomes[rule]])
            summary[f"{site}:{rule}"] = pooled | {"naive": naive, "meters": len(results)}
    records = {
        r.meter_id: {rule: outcome_records(found) for rule, found in r.outcomes.items()}
        for results in by_site.values()
        for r in results
    }
    path.write_text(json.dumps({"summary": summary, "days": records}, indent=1, default=str))


def pool(files: list[Path], meters: pd.DataFrame) -> int:
    """Pooled scores per site and threshold over the scored days saved by earlier runs."""
    site_of = dict(zip(meters["meter_id"], meters["site_id"], strict=True))
    outcomes: dict[tuple[str, str], list[PeakOutcome]] = {}
    naive: dict[str, list[dict]] = {}
    for path in files:
        saved = json.loads(path.read_text())
        for meter_id, rules in saved["days"].items():
            for rule, records in rules.items():
                found = [
                    PeakOutcome(
                        **{k: v for k, v in r.items() if k not in ("event", "likely_hour", "actual_hour")},
                        likely_hour=pd.Timestamp(r["likely_hour"]),
                        actual_hour=pd.Timestamp(r["actual_hour"]),
                    )
                    for r in records
                ]
                outcomes.setdefault((site_of[meter_id], rule), []).extend(found)
        for key, summary in saved["summary"].items():
            naive.setdefault(key, []).append(summary | {"file": str(path)})
    print(HEADER)
    for (site, rule), found in sorted(outcomes.items()):
        parts = naive.get(f"{site}:{rule}", [])
        meters_count = sum(s["meters"] for s in parts)
        weights = [s["days"] for s in parts if s.get("naive")]
        base = None
        if rule == "fixed" and sum(weights):
            base = {
                key: float(np.average([s["naive"][key] for s in parts if s.get("naive")], weights=weights))
                for key in ("peak_mape_percent", "hour_mae", "hour_within_1h")
            }
        print(row(f"{site[:11]} {rule[:3]}", peak_scores(found), base) + f"   ({meters_count} meters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
