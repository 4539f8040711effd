"""Day-ahead rolling-origin backtest on every meter of the development data set.

Prints, per meter and as the median per meter type and per site: CV(RMSE) of the forecast and of
the best seasonal-naive baseline, their ratio, NMBE, 80 % interval coverage and rCRPS; then, per
meter type, the observed coverage of each forecast quantile (share of actuals at or below it: it
should be close to the level) and CRPS/rCRPS (``ml.metrics.evaluate_quantiles``). With ``--horizon``
above 24 it also prints, per lead day, the median ratio and interval coverage, which is how the
widening of later days' intervals is checked. A bench, not a test:

    .venv/bin/python -P bench/accuracy.py [--data-dir ../shared/data] [--meters a,b] [--days 56]
        [--horizon 168] [--own-only] [--no-blend] [--cold-days 14] [--library lightgbm]

By default it backtests what the product answers with, the ensemble: a global member per meter
type and first origin is trained on every meter's readings before that origin
(``ml.fleet.fit_fleet(until=...)``, as the product's backtest edition), then each meter is
backtested with the ensemble of its own model, the global member's fold model that never saw it
and its best seasonal-naive forecast, with the default fleet-wide weights as the shrinkage prior
(``--no-blend``: its own model where one trains; under 28 days of history: the global member).
``--own-only`` backtests the meter's own model alone (no global member is trained).
``--cold-days N`` truncates each meter to N days before its scored period (every other meter,
and so the global member's training data, stays whole; the meter is forecast by the fold model
that never saw it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.domain.series import make_series
from energy_forecast.errors import InsufficientDataError
from energy_forecast.ml.backtest import BacktestResult, rolling_origin_backtest, score_forecasts
from energy_forecast.ml.baselines import BASELINES
from energy_forecast.ml.blend import default_prior
from energy_forecast.ml.fleet import FleetMember, FleetModel, fit_fleet_members, fleet_spec, global_params
from energy_forecast.ml.fleet_backtest import fleet_backtest

SITES = {
    "tetouan_ma": ("MA", "Africa/Casablanca"),
    "polito_it": ("IT", "Europe/Rome"),
    "bwdf_it": ("IT", "Europe/Rome"),
    "ucam_bedford": ("GB", "Europe/London"),
}
DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def load(data_dir: Path) -> tuple[pd.DataFrame, dict[str, pd.Series], dict[str, pd.Series]]:
    """Meters table, consumption series per meter and temperature series per site."""
    meters = pd.read_csv(data_dir / "meters.csv")
    readings = pd.concat(
        [pd.read_csv(data_dir / f"{kind}.csv") for kind in ("electricity", "water")], ignore_index=True
    )
    readings["timestamp"] = pd.to_datetime(readings["timestamp"], utc=True)
    consumption = {
        meter: make_series(group["timestamp"].to_numpy(), group["consumption"].to_numpy(), meter).dropna()
        for meter, group in readings.groupby("meter_id")
    }
    weather = pd.read_csv(data_dir / "temperature.csv")
    weather["timestamp"] = pd.to_datetime(weather["timestamp"], utc=True)
    temperature = {
        site: make_series(group["timestamp"].to_numpy(), group["temperature_c"].to_numpy(), site).dropna()
        for site, group in weather.groupby("site_id")
    }
    return meters, consumption, temperature


def by_lead_day(result: BacktestResult) -> dict[int, tuple[float | None, float | None]]:
    """(skill ratio, coverage) per lead day (1 = the first 24 h after the origin)."""
    table = result.forecasts
    lead_day = ((table["timestamp"] - table["origin"]) // pd.Timedelta(days=1)).to_numpy() + 1
    out: dict[int, tuple[float | None, float | None]] = {}
    for day in np.unique(lead_day):
        metrics = score_forecasts(table[lead_day == day])
        ours = metrics["model"]
        valid = [metrics[name]["cv_rmse_percent"] for name in BASELINES if metrics[name]["cv_rmse_percent"]]
        ratio = ours["cv_rmse_percent"] / min(valid) if valid and ours["cv_rmse_percent"] else None
        out[int(day)] = (ratio, ours["coverage_percent"])
    return out


def first_origin(series: pd.Series, days: int) -> pd.Timestamp:
    """The first scored origin of a meter (as ``rolling_origin_backtest`` places it)."""
    return series.dropna().index[-1].floor("D") - pd.Timedelta(days=days - 1)


def train_fleets(
    meters: pd.DataFrame,
    consumption: dict[str, pd.Series],
    temperature: dict[str, pd.Series],
    days: int,
    cache: Path | None = None,
    library: str = "lightgbm",
    wanted: set[str] | None = None,
) -> dict[tuple[str, pd.Timestamp], FleetModel]:
    """One fleet model per (type, first origin), on every meter's readings before that origin.

    With ``cache`` (``--fleet-cache``) each is saved there and read back by later runs, under a
    name that carries a digest of the type's recipe and settings (a changed feature list or
    parameter never reads an old model; a change to the training code itself still needs a fresh
    cache folder). With
    ``wanted`` (``--meters``) only the models those meters are backtested with are trained.
    """
    fleets: dict[tuple[str, pd.Timestamp], FleetModel] = {}
    members = {
        m.meter_id: FleetMember(
            m.meter_id,
            consumption[m.meter_id],
            temperature.get(m.site_id),
            SITES[m.site_id][1],
            SITES[m.site_id][0],
        )
        for m in meters.itertuples()
    }
    for meter in meters.itertuples():
        key = (meter.meter_type, first_origin(consumption[meter.meter_id], days))
        if key in fleets or (wanted and meter.meter_id not in wanted):
            continue
        same_type = [members[m.meter_id] for m in meters.itertuples() if m.meter_type == meter.meter_type]
        started = time.perf_counter()
        saved = (
            cache / f"{library}_{key[0]}_{key[1]:%Y%m%d}_{recipe_digest(key[0], library)}" if cache else None
        )
        if saved is not None and saved.is_dir():
            fleets[key] = FleetModel.from_artifacts({f.name: f.read_bytes() for f in saved.iterdir()})
        else:
            fleets[key] = fit_fleet_members(
                same_type, MeterType(meter.meter_type), until=key[1], library=library
            )
            if saved is not None:
                saved.mkdir(parents=True)
                for name, data in fleets[key].to_artifacts().items():
                    (saved / name).write_bytes(data)
        info = fleets[key].metadata
        print(
            f"fleet {meter.meter_type} until {key[1].date()}: {info['meters']} meters, {info['rows']} rows, "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
    return fleets


def recipe_digest(meter_type: str, library: str) -> str:
    """Eight hex digits of the global member's feature recipe and parameters for ``meter_type``."""
    recipe = {
        "spec": fleet_spec(MeterType(meter_type)).to_dict(),
        "params": global_params(MeterType(meter_type), library).to_dict(),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:8]


def weights_text(blend: dict[str, float | str | int] | None) -> str:
    if not blend:
        return ""
    return f" w=({blend['model']:.2f},{blend['fleet']:.2f},{blend['baseline']:.2f} {blend['baseline_name']})"


def fmt(value: float | None, spec: str = "7.2f") -> str:
    return format(value, spec) if value is not None else "   n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--meters", default="", help="comma-separated meter ids (default: all)")
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument("--horizon", type=int, default=24)
    parser.add_argument("--own-only", action="store_true", help="the meter's own model alone, no ensemble")
    parser.add_argument(
        "--no-blend", action="store_true", help="own model where one trains, global otherwise"
    )
    parser.add_argument("--cold-days", type=int, default=0, help="truncate each meter to N days of history")
    parser.add_argument("--fleet-cache", type=Path, default=None, help="keep trained fleet models here")
    parser.add_argument(
        "--drop-last-days", type=int, default=0, help="score the period before the last N days (for tuning)"
    )
    parser.add_argument("--library", default="lightgbm", help="the global member's library")
    parser.add_argument("--cold-prior", type=float, default=None, help="cold-start shrinkage hours")
    parser.add_argument(
        "--prior", default="", help="fleet-wide weights own,global,baseline (default: built in)"
    )
    parser.add_argument("--json-out", type=Path, default=None, help="write the per-meter rows here as JSON")
    parser.add_argument(
        "--forecasts-out", type=Path, default=None, help="write every scored hour's forecasts here (CSV)"
    )
    args = parser.parse_args(argv)

    meters, consumption, temperature = load(args.data_dir)
    if args.drop_last_days:
        consumption = {
            k: v[v.index < v.index[-1].floor("D") - pd.Timedelta(days=args.drop_last_days - 1)]
            for k, v in consumption.items()
        }
    wanted = {m for m in args.meters.split(",") if m}
    fleet_on = not args.own_only
    fleets = (
        train_fleets(meters, consumption, temperature, args.days, args.fleet_cache, args.library, wanted)
        if fleet_on
        else {}
    )
    given = tuple(float(w) for w in args.prior.split(",")) if args.prior else None
    rows = []
    print(
        f"{'meter':16} {'type':11} {'cv_ours':>7} {'cv_base':>7} {'best':>8} "
        f"{'ratio':>6} {'nmbe':>6} {'cover':>6} {'rcrps':>6}"
    )
    started = time.perf_counter()
    refused = 0
    tables: list[pd.DataFrame] = []
    for meter in meters.itertuples():
        if wanted and meter.meter_id not in wanted:
            continue
        country, timezone = SITES[meter.site_id]
        series = consumption[meter.meter_id]
        first = first_origin(series, args.days)
        if args.cold_days:
            series = series[series.index >= first - pd.Timedelta(days=args.cold_days)]
        common = {
            "meter_id": meter.meter_id,
            "meter_type": MeterType(meter.meter_type),
            "timezone": timezone,
            "country": country,
            "horizon_hours": args.horizon,
            "days": args.days,
        }
        try:
            if fleet_on:
                fleet = fleets[(meter.meter_type, first)]
                extra: dict[str, object] = {"prior": given or default_prior(meter.meter_type)}
                if args.cold_prior is not None:
                    extra["cold_prior_hours"] = args.cold_prior
                result = fleet_backtest(
                    series,
                    temperature.get(meter.site_id),
                    fleet=fleet,
                    blend=not args.no_blend,
                    **common,
                    **extra,
                )
            else:
                result = rolling_origin_backtest(series, temperature.get(meter.site_id), **common)
        except InsufficientDataError as exc:
            print(f"{meter.meter_id:16} {meter.meter_type:11} refused (the fallback answers): {exc.message}")
            refused += 1
            continue
        if args.forecasts_out:
            tables.append(result.forecasts.assign(meter=meter.meter_id))
        ours = result.metrics["model"]
        best = result.best_baseline
        base_cv = result.metrics[best]["cv_rmse_percent"] if best else None
        row = {
            "meter": meter.meter_id,
            "type": meter.meter_type,
            "site": meter.site_id,
            "raw": (result.blend or {}).get("raw"),
            "cv_ours": ours["cv_rmse_percent"],
            "cv_base": base_cv,
            "ratio": result.skill_ratio,
            "nmbe": ours["nmbe_percent"],
            "coverage": ours["coverage_percent"],
            "quantiles": {
                k: v for k, v in ours.items() if k.startswith("coverage_p") and k != "coverage_percent"
            },
            "crps": ours.get("crps"),
            "rcrps": ours.get("rcrps"),
            "lead_days": by_lead_day(result) if args.horizon > 24 else {},
        }
        rows.append(row)
        print(
            f"{meter.meter_id:16} {meter.meter_type:11} {fmt(row['cv_ours'])} {fmt(base_cv)} "
            f"{best or '-':>8} "
            f"{fmt(row['ratio'], '6.3f')} {fmt(row['nmbe'], '6.2f')} {fmt(row['coverage'], '6.1f')}"
            f" {fmt(row['rcrps'], '6.4f')}"
            f"  {result.model_kind}{weights_text(result.blend)}",
            flush=True,
        )
    if not rows:
        print(
            f"\nno meter could be backtested (refused: {refused}); "
            f"elapsed {time.perf_counter() - started:.1f} s"
        )
        return 0
    print(f"\n{'type':11} {'meters':>6} {'med_ratio':>9} {'<1.0':>5} {'med_cover':>9} {'med_nmbe':>8}")
    for kind in sorted({r["type"] for r in rows}):
        chosen = [r for r in rows if r["type"] == kind]
        ratios = [r["ratio"] for r in chosen if r["ratio"] is not None]
        covers = [r["coverage"] for r in chosen if r["coverage"] is not None]
        nmbes = [r["nmbe"] for r in chosen if r["nmbe"] is not None]
        print(
            f"{kind:11} {len(chosen):6d} {statistics.median(ratios):9.3f} {sum(r < 1 for r in ratios):5d} "
            f"{statistics.median(covers):9.1f} {statistics.median(nmbes):8.2f}"
        )
    for site in sorted({r["site"] for r in rows}):
        chosen = [r for r in rows if r["site"] == site]
        ratios = [r["ratio"] for r in chosen if r["ratio"] is not None]
        covers = [r["coverage"] for r in chosen if r["coverage"] is not None]
        print(
            f"{site:11} {len(chosen):6d} {statistics.median(ratios):9.3f} {sum(r < 1 for r in ratios):5d} "
            f"{statistics.median(covers):9.1f}"
        )
    for kind in sorted({r["type"] for r in rows}):
        raws = [r["raw"] for r in rows if r["type"] == kind and r["raw"]]
        if raws:
            mean = np.mean(np.asarray(raws, dtype="float64"), axis=0)
            weights = tuple(round(float(w), 3) for w in mean)
            print(f"{kind}: mean unshrunk weights (own, global, baseline) = {weights}")
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    covers = [r["coverage"] for r in rows if r["coverage"] is not None]
    print(
        f"{'all':11} {len(rows):6d} {statistics.median(ratios):9.3f} {sum(r < 1 for r in ratios):5d} "
        f"{statistics.median(covers):9.1f}   pooled coverage mean {statistics.fmean(covers):.1f}"
        f"{f', refused {refused}' if refused else ''}"
    )
    beating, total = sum(r < 1 for r in ratios), len(rows) + refused
    print(f"beating their best baseline: {beating} of {total} meters ({beating / total:.0%})")
    print_quantiles(rows)
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=1, default=str))
    if args.forecasts_out and tables:
        pd.concat(tables, ignore_index=True).to_csv(args.forecasts_out, index=False)
    if args.horizon > 24:
        print(f"\n{'type':11} {'lead_day':>8} {'med_ratio':>9} {'med_cover':>9}")
        for kind in sorted({r["type"] for r in rows}):
            chosen = [r for r in rows if r["type"] == kind]
            for day in sorted({d for r in chosen for d in r["lead_days"]}):
                pairs = [r["lead_days"][day] for r in chosen if day in r["lead_days"]]
                ratios = [p[0] for p in pairs if p[0] is not None]
                covers = [p[1] for p in pairs if p[1] is not None]
                print(f"{kind:11} {day:8d} {statistics.median(ratios):9.3f} {statistics.median(covers):9.1f}")
    print(f"elapsed {time.perf_counter() - started:.1f} s")
    return 0


def print_quantiles(rows: list[dict]) -> None:
    """Per type: each quantile's observed coverage (median and mean over meters), CRPS and rCRPS."""
    print(f"\n{'type':11} {'quantile':>8} {'med_cover':>9} {'mean_cover':>10}")
    for kind in sorted({r["type"] for r in rows}):
        chosen = [r for r in rows if r["type"] == kind]
        for key in sorted({k for r in chosen for k in r["quantiles"]}, key=lambda k: float(k[10:-8])):
            covers = [r["quantiles"][key] for r in chosen if r["quantiles"].get(key) is not None]
            name = key[len("coverage_") : -len("_percent")]
            print(f"{kind:11} {name:>8} {statistics.median(covers):9.1f} {statistics.fmean(covers):10.1f}")
    print(f"\n{'type':11} {'med_crps':>9} {'med_rcrps':>9} {'mean_rcrps':>10}")
    for kind in sorted({r["type"] for r in rows}):
        chosen = [r for r in rows if r["type"] == kind]
        crps = [r["crps"] for r in chosen if r["crps"] is not None]
        rcrps = [r["rcrps"] for r in chosen if r["rcrps"] is not None]
        if crps and rcrps:
            print(
                f"{kind:11} {statistics.median(crps):9.3f} {statistics.median(rcrps):9.4f} "
                f"{statistics.fmean(rcrps):10.4f}"
            )


if __name__ == "__main__":
    sys.exit(main())
