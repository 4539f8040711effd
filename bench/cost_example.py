"""A measured monthly peak and cost forecast, checked against the month that followed.

Loads meters of the development data set into a fresh DuckDB home, keeps their readings up to
``--cut`` (UTC) only, trains them as the service does (``train_meter``), then answers what
``POST /peaks/`` (billing month) and ``POST /cost/`` (the example tariff with a demand charge of
the cost how-to) answer, and prints them beside the actual month: its peak and hour, and its cost
under the same tariff computed from all of its readings. ``--site`` does the same for the group
of every meter of a site (``site-<site_id>``, as the import names it): members trained one by
one, the group's answers from their joint scenarios, the actual month the members' summed
readings. Water is billed under a rising-block tariff (a demand charge is an electricity charge).
A bench, not a test; run it niced:

    nice -n 10 .venv/bin/python -P bench/cost_example.py [--data-dir ../shared/data]
        [--meters ucam_b0_elec | --site ucam_bedford] [--cut 2019-11-15T00:00Z]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
# Before XGBoost loads OpenMP: its threads otherwise spin while the other benches use the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from accuracy import DEFAULT_DATA, SITES, load  # the development data, read as every bench reads it
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.sites import Site
from energy_forecast.domain.tariffs import parse_tariff
from energy_forecast.ml.cost import billing_hours, forecast_cost
from energy_forecast.ml.scenarios import Scenarios
from energy_forecast.services.cost import cost_report
from energy_forecast.services.groups import put_group
from energy_forecast.services.peaks import peaks_report
from energy_forecast.services.subjects import Subject, group_subject, meter_subject
from energy_forecast.services.training import train_meter
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore

TARIFF = {
    "name": "Commercial time-of-use with demand charge",
    "currency": "GBP",
    "energy": [
        {"price": 0.12, "days": ["holiday"], "label": "holiday"},
        {"price": 0.32, "hours": "16-19", "days": ["weekday"], "label": "peak"},
        {"price": 0.12, "hours": "23-7", "label": "night"},
        {"price": 0.21, "label": "day"},
    ],
    "demand_charge_per_kw": 9.5,
    "fixed_per_period": 40.0,
}
WATER_TARIFF = {  # a demand charge is an electricity charge: water is billed by volume
    "name": "Bulk water, rising blocks",
    "currency": "EUR",
    "blocks": [{"up_to": 300000, "price": 0.9}, {"up_to": None, "price": 1.3}],
    "fixed_per_period": 500.0,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--meters", default="ucam_b0_elec", help="comma-separated meter ids")
    parser.add_argument(
        "--site", default=None, help="a site: its meters (of one type) as the group site-<site> instead"
    )
    parser.add_argument("--cut", default="2019-11-15T00:00Z", help="readings before this hour only")
    parser.add_argument("--answers", type=Path, default=None, help="write the JSON answers here")
    args = parser.parse_args(argv)
    cut = pd.Timestamp(args.cut)
    meters, series, temperature = load(args.data_dir)
    if args.site:
        chosen = meters[meters["site_id"] == args.site]
    else:
        chosen = meters.set_index("meter_id").loc[args.meters.split(",")].reset_index()
    answers: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="ef-cost-") as home:
        store = DuckDBSeriesStore(Path(home) / "series.duckdb")
        models = FileModelStore(Path(home) / "models")
        for site in chosen["site_id"].unique():
            store.upsert_site(Site(site_id=site, country=SITES[site][0]))
            store.write_temperature(site, temperature[site])
        started = time.perf_counter()
        for meter_id, meter_type, site, unit in chosen[
            ["meter_id", "meter_type", "site_id", "unit"]
        ].itertuples(index=False):
            timezone = SITES[site][1]
            kind = MeterType(meter_type)
            store.upsert_meters([Meter(meter_id, kind, site, unit=unit, timezone=timezone)])
            store.write_readings(kind, meter_id, series[meter_id][series[meter_id].index < cut])
            train_meter(store, models, meter_id=meter_id, meter_type=kind)
        trained = time.perf_counter() - started
        print(f"{len(chosen)} meters trained in {trained:.0f} s (readings before {cut.isoformat()})")
        if args.site:
            kind = MeterType(chosen["meter_type"].iloc[0])
            group_id = f"site-{args.site}"
            put_group(store, group_id, kind, list(chosen["meter_id"]))
            subject = group_subject(store, models, group_id=group_id, meter_type=kind)
            actual = sum(series[m] for m in chosen["meter_id"])
            subjects = [(group_id, subject, actual, kind, str(chosen["unit"].iloc[0]))]
        else:
            subjects = [
                (
                    m,
                    meter_subject(store, models, meter_id=m, meter_type=MeterType(t)),
                    series[m],
                    MeterType(t),
                    u,
                )
                for m, t, u in chosen[["meter_id", "meter_type", "unit"]].itertuples(index=False)
            ]
        for label, subject, actual, kind, unit in subjects:
            answers[label] = report(store, label, subject, actual, kind, unit)
        store.close()
    if args.answers:
        args.answers.write_text(json.dumps(answers, indent=1))
    return 0


def report(
    store: DuckDBSeriesStore, label: str, subject: Subject, series: pd.Series, kind: MeterType, unit: str
) -> dict[str, object]:
    """Print the month's peak and cost answers beside the actual month; return the answers."""
    tariff = parse_tariff(TARIFF if kind == MeterType.ELECTRICITY else WATER_TARIFF)
    timezone = subject.timezone
    started = time.perf_counter()
    peaks = peaks_report(subject, "month")
    cost = cost_report(store, subject, tariff)
    seconds = time.perf_counter() - started
    month = peaks["peaks"][0]
    hours = billing_hours(cost["period"], timezone)
    actual = series.reindex(hours)
    full = Scenarios(
        index=pd.DatetimeIndex([], tz="UTC"),
        point=np.zeros(0),
        paths=np.zeros((1, 0)),
        unit="",
        model="actual",
    )
    truth = forecast_cost(
        full, actual.dropna(), tariff, period=cost["period"], timezone=timezone,
        meter_type=kind.value, unit=unit, origin=hours[-1] + pd.Timedelta(hours=1),
    )  # fmt: skip
    print(
        f"{label}: readings to {peaks['last_reading']}, model {peaks['model']}; answered in {seconds:.1f} s"
    )
    q = month["quantiles"]
    print(
        f"  peak of {month['period']}: P10 {q['p10']:.1f}  P50 {q['p50']:.1f}  P90 {q['p90']:.1f}, "
        f"likely {month['likely_hour']['local']} ({month['hours'][0]['probability']:.0%}); so far "
        f"{month['observed']['peak']:.1f}; actual {actual.max():.1f} at "
        f"{actual.idxmax().tz_convert(timezone).isoformat()}"
    )
    next_day = next((d for d in peaks["days"] if d["observed_max"] is None), None)
    if next_day:
        print(
            f"  chance {next_day['day']} sets a new monthly peak: "
            f"{next_day['new_monthly_peak_probability']:.0%}"
        )
    for part in ("energy", "demand", "fixed"):
        c = cost["components"][part]
        real = truth.quantiles[part]["p50"]
        print(
            f"  {part:<7} P10 {c['p10']:9.0f}  P50 {c['p50']:9.0f}  P90 {c['p90']:9.0f}  actual {real:9.0f}"
        )
    t = cost["total"]
    print(
        f"  total   P10 {t['p10']:9.0f}  P50 {t['p50']:9.0f}  P90 {t['p90']:9.0f}  actual "
        f"{truth.quantiles['total']['p50']:9.0f} {cost['currency']}; so far "
        f"{cost['so_far']['energy'] + cost['so_far']['demand']:.0f} (energy + demand at the peak so far)"
    )
    if cost["demand_hours"]:
        drivers = ", ".join(f"{h['local'][:16]} ({h['probability']:.0%})" for h in cost["demand_hours"])
        print(f"  hours most likely to set the demand charge: {drivers}")
    sys.stdout.flush()
    return {"peaks": peaks, "cost": cost, "actual_peak": float(actual.max()), "actual_cost": truth.quantiles}


if __name__ == "__main__":
    sys.exit(main())
