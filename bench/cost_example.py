"""A measured monthly peak and cost forecast, checked against the month that followed.

Loads meters of the development data set into a fresh DuckDB home, keeps their readings up to
``--cut`` (UTC) only, trains them as the service does (``train_meter``), then answers what
``POST /peaks/`` (billing month) and ``POST /cost/`` (the example tariff with a demand charge of
the cost how-to) answer, and prints them beside the actual month: its peak and hour, and its cost
under the same tariff computed from all of its readings. A bench, not a test; run it niced:

    nice -n 10 .venv/bin/python -P bench/cost_example.py [--data-dir ../shared/data]
        [--meters ucam_b0_elec] [--cut 2019-11-15T00:00Z]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.sites import Site
from energy_forecast.domain.tariffs import parse_tariff
from energy_forecast.ml.cost import billing_hours, forecast_cost
from energy_forecast.ml.scenarios import Scenarios
from energy_forecast.services.cost import cost_report
from energy_forecast.services.peaks import peaks_report
from energy_forecast.services.subjects import meter_subject
from energy_forecast.services.training import train_meter
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SITES = {"ucam_bedford": ("GB", "Europe/London"), "bwdf_it": ("IT", "Europe/Rome")}
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


def load(
    data_dir: Path, meter_ids: list[str]
) -> tuple[pd.DataFrame, dict[str, pd.Series], dict[str, pd.Series]]:
    meters = pd.read_csv(data_dir / "meters.csv").set_index("meter_id").loc[meter_ids]
    frames = [pd.read_csv(data_dir / f"{kind}.csv") for kind in ("electricity", "water")]
    readings = pd.concat(frames, ignore_index=True)
    readings = readings[readings["meter_id"].isin(meter_ids)]
    readings["timestamp"] = pd.to_datetime(readings["timestamp"], utc=True)
    series = {
        m: pd.Series(
            g["consumption"].to_numpy(), index=pd.DatetimeIndex(g["timestamp"]), name="consumption"
        ).dropna()
        for m, g in readings.groupby("meter_id")
    }
    weather = pd.read_csv(data_dir / "temperature.csv")
    weather = weather[weather["site_id"].isin(meters["site_id"].unique())]
    weather["timestamp"] = pd.to_datetime(weather["timestamp"], utc=True)
    temperature = {
        s: pd.Series(
            g["temperature_c"].to_numpy(), index=pd.DatetimeIndex(g["timestamp"]), name="temperature"
        ).dropna()
        for s, g in weather.groupby("site_id")
    }
    return meters, series, temperature


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--meters", default="ucam_b0_elec")
    parser.add_argument("--cut", default="2019-11-15T00:00Z", help="readings before this hour only")
    parser.add_argument("--answers", type=Path, default=None, help="write the JSON answers here")
    args = parser.parse_args(argv)
    cut = pd.Timestamp(args.cut)
    meters, series, temperature = load(args.data_dir, args.meters.split(","))
    tariff = parse_tariff(TARIFF)
    answers: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="ef-cost-") as home:
        store = DuckDBSeriesStore(Path(home) / "series.duckdb")
        models = FileModelStore(Path(home) / "models")
        for site, (country, _) in SITES.items():
            store.upsert_site(Site(site_id=site, country=country))
        for site, values in temperature.items():
            store.write_temperature(site, values)
        for meter_id, row in meters.iterrows():
            country, timezone = SITES[row["site_id"]]
            meter_type = MeterType(row["meter_type"])
            store.upsert_meters(
                [Meter(str(meter_id), meter_type, row["site_id"], unit=row["unit"], timezone=timezone)]
            )
            store.write_readings(
                meter_type, str(meter_id), series[str(meter_id)][series[str(meter_id)].index < cut]
            )
            started = time.perf_counter()
            train_meter(store, models, meter_id=str(meter_id), meter_type=meter_type)
            trained = time.perf_counter() - started
            subject = meter_subject(store, models, meter_id=str(meter_id), meter_type=meter_type)
            peaks = peaks_report(subject, "month")
            cost = cost_report(store, subject, tariff)
            answers[str(meter_id)] = {"peaks": peaks, "cost": cost}
            month = peaks["peaks"][0]
            hours = billing_hours(cost["period"], timezone)
            actual = series[str(meter_id)].reindex(hours)
            full = Scenarios(
                index=pd.DatetimeIndex([], tz="UTC"),
                point=np.zeros(0),
                paths=np.zeros((1, 0)),
                unit="",
                model="actual",
            )
            truth = forecast_cost(
                full, actual.dropna(), tariff, period=cost["period"], timezone=timezone,
                meter_type=meter_type.value, unit=row["unit"], origin=hours[-1] + pd.Timedelta(hours=1),
            )  # fmt: skip
            print(
                f"{meter_id}: trained in {trained:.0f} s; readings to {peaks['last_reading']}, "
                f"model {peaks['model']}"
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
                    f"  {part:<7} P10 {c['p10']:9.0f}  P50 {c['p50']:9.0f}  P90 {c['p90']:9.0f}  "
                    f"actual {real:9.0f}"
                )
            t = cost["total"]
            print(
                f"  total   P10 {t['p10']:9.0f}  P50 {t['p50']:9.0f}  P90 {t['p90']:9.0f}  actual "
                f"{truth.quantiles['total']['p50']:9.0f} {cost['currency']}; so far "
                f"{cost['so_far']['energy'] + cost['so_far']['demand']:.0f} "
                "(energy + demand at the peak so far)"
            )
            drivers = ", ".join(f"{h['local'][:16]} ({h['probability']:.0%})" for h in cost["demand_hours"])
            print(f"  hours most likely to set the demand charge: {drivers}")
            sys.stdout.flush()
        store.close()
    if args.answers:
        args.answers.write_text(json.dumps(answers, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
