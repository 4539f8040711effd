"""How often the band alert fires on ordinary data: alarms per meter-month with the forecaster's own P1/P99.

Every meter of the development data set is backtested day-ahead exactly as ``bench/accuracy.py``
does (the ensemble the product answers with: a global member per type trained on every meter's
readings before the first origin, then the meter's own model, the global fold model that never saw
it and its best seasonal-naive forecast) with the alert band's quantiles among the levels. The band
rule (``ml.alerts.band_episodes``, the product's default: outside P1-P99 for 3 hours raises) is
then replayed over the scored hours. The data carries no labelled faults, so every episode is either
a real anomaly nobody marked or a false alarm: the rate is an upper bound on the false-alarm rate.
Also printed: the observed share of hours below P1 and above P99 (each should be about 1 %).

    nice -n 10 .venv/bin/python -P bench/alerts.py [--data-dir ../shared/data] [--meters a,b]
        [--days 28] [--raise-hours 3] [--lower 0.01] [--upper 0.99] [--fleet-cache DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import DEFAULT_DATA, SITES, first_origin, load, train_fleets
from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import InsufficientDataError
from energy_forecast.ml.alerts import BandRule, band_episodes
from energy_forecast.ml.blend import default_prior
from energy_forecast.ml.fleet_backtest import fleet_backtest
from energy_forecast.ml.quantiles import quantile_key

HOURS_PER_MONTH = 24 * 30.44


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--meters", default="", help="comma-separated meter ids (default: all)")
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--raise-hours", type=int, default=3)
    parser.add_argument("--lower", type=float, default=0.01)
    parser.add_argument("--upper", type=float, default=0.99)
    parser.add_argument("--fleet-cache", type=Path, default=None, help="keep trained fleet models here")
    args = parser.parse_args(argv)

    rule = BandRule(args.lower, args.upper, args.raise_hours, args.raise_hours)
    levels = tuple(sorted({0.1, 0.5, 0.9, args.lower, args.upper}))
    low_key, high_key = quantile_key(args.lower), quantile_key(args.upper)
    meters, consumption, temperature = load(args.data_dir)
    wanted = {m for m in args.meters.split(",") if m}
    # Global members learn from every meter of a type (as in the product); only the wanted are scored.
    fleets = train_fleets(
        meters, consumption, temperature, args.days, args.fleet_cache, wanted=wanted or None
    )
    if wanted:
        meters = meters[meters["meter_id"].isin(wanted)]
    per_type: dict[str, list[tuple[float, float, float]]] = {}
    print(f"{'meter':16} {'type':11} {'hours':>5} {'alarms':>6} {'per_month':>9} {'below%':>6} {'above%':>6}")
    for meter in meters.itertuples():
        country, timezone = SITES[meter.site_id]
        series = consumption[meter.meter_id]
        fleet = fleets[(meter.meter_type, first_origin(series, args.days))]
        try:
            result = fleet_backtest(
                series,
                temperature.get(meter.site_id),
                fleet=fleet,
                meter_id=meter.meter_id,
                meter_type=MeterType(meter.meter_type),
                timezone=timezone,
                country=country,
                horizon_hours=24,
                days=args.days,
                prior=default_prior(meter.meter_type),
                levels=levels,
            )
        except InsufficientDataError as exc:
            print(f"{meter.meter_id:16} {meter.meter_type:11} refused: {exc.message}")
            continue
        table = result.forecasts.dropna(subset=["actual", low_key, high_key]).set_index("timestamp")
        episodes = band_episodes(table["actual"], table[low_key], table[high_key], rule)
        hours = len(table)
        per_month = len(episodes) * HOURS_PER_MONTH / hours if hours else float("nan")
        below = 100.0 * float(np.mean(table["actual"] < table[low_key]))
        above = 100.0 * float(np.mean(table["actual"] > table[high_key]))
        per_type.setdefault(meter.meter_type, []).append((per_month, below, above))
        print(
            f"{meter.meter_id:16} {meter.meter_type:11} {hours:5d} {len(episodes):6d} {per_month:9.2f} "
            f"{below:6.2f} {above:6.2f}",
            flush=True,
        )
    print(f"\nband {low_key}-{high_key}, raise after {args.raise_hours} h outside, {args.days} scored days")
    print(f"{'type':11} {'meters':>6} {'mean/month':>10} {'median/month':>12} {'below%':>6} {'above%':>6}")
    for kind, rows in sorted(per_type.items()):
        rates = [r[0] for r in rows]
        print(
            f"{kind:11} {len(rows):6d} {statistics.fmean(rates):10.2f} {statistics.median(rates):12.2f} "
            f"{statistics.median(r[1] for r in rows):6.2f} {statistics.median(r[2] for r in rows):6.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
