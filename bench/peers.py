"""Peer benchmark: our forecaster against OpenSTEF, mlforecast and skforecast, on our protocol.

Every tool runs through exactly the backtest of ``energy-forecast backtest``
(``energy_forecast.ml.backtest``): the daily 00:00 UTC origins of the last ``--days`` days, one
model fitted on the readings before the first origin, 24 hours forecast from each origin from
readings strictly before it, observed temperature standing in for the weather forecast, and the
three seasonal-naive baselines on the same hours. Ratio = CV(RMSE) / the best baseline's. The
plain average of the three peers' forecasts (and of their quantiles) is scored too. How each peer
is configured: ``bench/peer_models.py``. Run it in its own environment (OpenSTEF 4.x needs
Python >= 3.12):

    bench/peers-setup.sh
    nice -n 10 bench/.peers-venv/bin/python -P bench/peers.py [--data-dir ../shared/data]
        [--meters a,b] [--types electricity,water] [--days 28] [--peers openstef,mlforecast,skforecast]
        [--out peers.csv]
    bench/.peers-venv/bin/python -P bench/peers.py --table-from peers.csv   # the table of a saved run
    bench/.peers-venv/bin/python -P bench/peers.py --reuse peers.csv --out new.csv  # ours again

``--reuse`` re-runs only our forecaster (after a change to it) and takes every peer's rows, and
the peers' average, from a saved ``--out`` CSV of the same meters and days: the peers take most of
a full run's time and do not change when ours does.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from energy_forecast.domain.meters import MeterType
from energy_forecast.domain.series import make_series
from energy_forecast.ml.backtest import (
    backtest_origins,
    origin_table,
    score_forecasts,
)
from energy_forecast.ml.baselines import BASELINES
from energy_forecast.ml.blend import default_prior
from energy_forecast.ml.fleet import FleetMember, FleetModel, fit_fleet_members
from energy_forecast.ml.fleet_backtest import fleet_backtest
from peer_models import (
    HORIZON,
    QUANTILE_COLUMNS,
    QUANTILES,
    Forecast,
    Meter,
    mlforecast_fit,
    openstef_fit,
    skforecast_fit,
)

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
# Site -> (country, time zone, latitude, longitude); the coordinates feed OpenSTEF's daylight and
# radiation features only.
SITES = {
    "tetouan_ma": ("MA", "Africa/Casablanca", 35.57, -5.37),
    "polito_it": ("IT", "Europe/Rome", 45.06, 7.66),
    "bwdf_it": ("IT", "Europe/Rome", 45.41, 11.88),
    "ucam_bedford": ("GB", "Europe/London", 52.20, 0.12),
}
PEERS = ("openstef", "mlforecast", "skforecast")
AVERAGE = "peers_avg"
TOOLS = ("ours", *PEERS, AVERAGE)


def group_of(meter_id: str, meter_type: str) -> str:
    """The table's row: electricity split into university buildings, feeders and other building."""
    if meter_type == "water":
        return "water"
    if meter_id.startswith("ucam_"):
        return "electricity: university buildings"
    if meter_id.startswith("tetouan_"):
        return "electricity: feeders"
    return "electricity: other building"


# --- metrics on quantiles (OpenSTEF's definitions) ---------------------------------------------


def pinball(actual: np.ndarray, predicted: np.ndarray, level: float) -> float:
    """Mean pinball (quantile) loss of ``predicted`` as the ``level`` quantile."""
    diff = actual - predicted
    return float(np.mean(np.maximum(level * diff, (level - 1.0) * diff)))


def interval_weights(levels: tuple[float, ...]) -> np.ndarray:
    """Each quantile weighted by the share of [0, 1] it stands for (midpoints between levels)."""
    q = np.asarray(levels, dtype="float64")
    edges = np.concatenate([[0.0], (q[:-1] + q[1:]) / 2.0, [1.0]])
    return np.diff(edges)


def crps(actual: np.ndarray, quantiles: np.ndarray, levels: tuple[float, ...] = QUANTILES) -> float:
    """CRPS from quantile forecasts: twice the interval-weighted mean pinball loss (as OpenSTEF)."""
    losses = np.array([pinball(actual, quantiles[:, i], q) for i, q in enumerate(levels)])
    return float(2.0 * interval_weights(levels) @ losses)


def load_range(actual: np.ndarray) -> float:
    """P99 - P1 of the load: OpenSTEF's rCRPS denominator."""
    return float(np.quantile(actual, 0.99) - np.quantile(actual, 0.01))


def quantile_metrics(actual: np.ndarray, quantiles: np.ndarray) -> dict[str, float | None]:
    """Coverage of [P10, P90] (%), CRPS, rCRPS and mean pinball loss / (P99 - P1), on finite rows."""
    keep = np.isfinite(actual) & np.all(np.isfinite(quantiles), axis=1)
    a, q = actual[keep], quantiles[keep]
    if a.size == 0:
        return {"coverage": None, "crps": None, "rcrps": None, "rpinball": None}
    spread = load_range(a)
    score = crps(a, q)
    mean_pinball = float(np.mean([pinball(a, q[:, i], lv) for i, lv in enumerate(QUANTILES)]))
    return {
        "coverage": float(np.mean((a >= q[:, 0]) & (a <= q[:, -1])) * 100.0),
        "crps": score,
        "rcrps": score / spread if spread > 0 else None,
        "rpinball": mean_pinball / spread if spread > 0 else None,
    }


def score(table: pd.DataFrame) -> dict[str, float | str | None]:
    """Our scorer (``score_forecasts``) plus the quantile metrics, on the same scored hours."""
    metrics = score_forecasts(table)
    valid = {n: metrics[n]["cv_rmse_percent"] for n in BASELINES if metrics[n]["cv_rmse_percent"]}
    best = min(valid, key=lambda n: valid[n]) if valid else None
    ours = metrics["model"]["cv_rmse_percent"]
    scored = np.isfinite(table["actual"].to_numpy())
    for name in BASELINES:
        scored &= np.isfinite(table[name].to_numpy())
    used = table[scored]
    extra = quantile_metrics(
        used["actual"].to_numpy(), used[list(QUANTILE_COLUMNS)].to_numpy(dtype="float64")
    )
    return {
        "hours": metrics["model"]["hours"],
        "cv_rmse": ours,
        "best_baseline": best,
        "cv_baseline": valid.get(best) if best else None,
        "ratio": ours / valid[best] if best and ours is not None else None,
        "nmbe": metrics["model"]["nmbe_percent"],
        **extra,
    }


# --- the tools on one meter ---------------------------------------------------------------------


@dataclass
class Run:
    """One tool's backtest table of one meter and what it cost."""

    table: pd.DataFrame
    seconds: float
    fit_seconds: float | None = None
    note: str = ""
    metrics: dict[str, float | str | None] = field(default_factory=dict)


class OurGlobalMembers:
    """Our global ensemble member per (meter type, cutoff), trained like the product's backtest
    edition: on the readings before the cutoff of every meter of the type in the run (the same
    meters mlforecast's global model sees)."""

    def __init__(
        self, meters: list[Meter], consumption: dict[str, pd.Series], temperature: dict[str, pd.Series]
    ) -> None:
        self.members: dict[str, list[FleetMember]] = {}
        for m in meters:
            member = FleetMember(
                m.meter_id, consumption[m.meter_id], temperature.get(m.site_id), m.timezone, m.country
            )
            self.members.setdefault(m.meter_type, []).append(member)
        self.fitted: dict[tuple[str, pd.Timestamp], tuple[FleetModel, float]] = {}

    def until(self, meter_type: str, cutoff: pd.Timestamp) -> tuple[FleetModel, float]:
        """The member trained on readings before ``cutoff``, and the seconds its fit took."""
        key = (meter_type, cutoff)
        if key not in self.fitted:
            started = time.perf_counter()
            model = fit_fleet_members(self.members[meter_type], MeterType(meter_type), until=cutoff)
            self.fitted[key] = (model, time.perf_counter() - started)
        return self.fitted[key]


def ours(
    series: pd.Series, temperature: pd.Series | None, meter: Meter, days: int, members: OurGlobalMembers
) -> Run:
    """Our default forecaster, the ensemble the CLI ``backtest`` and ``POST /backtest/`` score.

    This is the one place that says what "ours" is: point it at another entry point when the
    default forecaster changes, and the whole benchmark follows. The global member's fit is
    shared by the meters of a type; its seconds are divided among them, as for mlforecast.
    """
    started = time.perf_counter()
    cutoff = backtest_origins(series, meter.meter_id, days)[1][0]
    fleet, fleet_seconds = members.until(meter.meter_type, cutoff)
    result = fleet_backtest(
        series,
        temperature,
        meter_id=meter.meter_id,
        meter_type=MeterType(meter.meter_type),
        fleet=fleet,
        prior=default_prior(meter.meter_type),
        timezone=meter.timezone,
        country=meter.country,
        horizon_hours=HORIZON,
        days=days,
    )
    table = result.forecasts.copy()
    if "p10" not in table:  # a frame with the 80 % band only: P10-P90, the point forecast as median
        table["p10"], table["p50"], table["p90"] = table["lower"], table["forecast"], table["upper"]
    shared = fleet_seconds / max(1, len(members.members[meter.meter_type]))
    return Run(table=table, seconds=time.perf_counter() - started + shared, note=result.model_kind)


def peer_run(
    series: pd.Series,
    meter: Meter,
    days: int,
    fit: Callable[[pd.Series], Forecast],
    shared_fit_seconds: float = 0.0,
) -> Run:
    """A peer through our protocol: fit before the first origin, forecast each origin, score."""
    started = time.perf_counter()
    readings, origins = backtest_origins(series, meter.meter_id, days)
    forecast = fit(readings[readings.index < origins[0]])
    fitted = time.perf_counter() - started + shared_fit_seconds
    table = origin_table(readings, origins, HORIZON, lambda origin: forecast(readings, origin))
    return Run(table=table, seconds=time.perf_counter() - started + shared_fit_seconds, fit_seconds=fitted)


def average_run(runs: list[Run]) -> Run:
    """The plain average of the peers' forecasts and of their quantiles, hour by hour."""
    table = runs[0].table.copy()
    for column in ("forecast", "lower", "upper", *QUANTILE_COLUMNS):
        table[column] = np.mean([r.table[column].to_numpy(dtype="float64") for r in runs], axis=0)
    fits = [r.fit_seconds or 0.0 for r in runs]
    return Run(table=table, seconds=sum(r.seconds for r in runs), fit_seconds=sum(fits))


# --- data -----------------------------------------------------------------------------------------


def load(data_dir: Path) -> tuple[list[Meter], dict[str, pd.Series], dict[str, pd.Series]]:
    """Meters, their readings and each site's temperature, from the development data set."""
    table = pd.read_csv(data_dir / "meters.csv")
    meters = [
        Meter(
            row.meter_id,
            row.meter_type,
            row.site_id,
            SITES[row.site_id][1],
            SITES[row.site_id][0],
            SITES[row.site_id][2],
            SITES[row.site_id][3],
        )
        for row in table.itertuples()
    ]
    readings = pd.concat(
        [pd.read_csv(data_dir / f"{k}.csv") for k in ("electricity", "water")], ignore_index=True
    )
    readings["timestamp"] = pd.to_datetime(readings["timestamp"], utc=True)
    consumption = {
        m: make_series(g["timestamp"].to_numpy(), g["consumption"].to_numpy(), m).dropna()
        for m, g in readings.groupby("meter_id")
    }
    weather = pd.read_csv(data_dir / "temperature.csv")
    weather["timestamp"] = pd.to_datetime(weather["timestamp"], utc=True)
    temperature = {
        s: make_series(g["timestamp"].to_numpy(), g["temperature_c"].to_numpy(), s).dropna()
        for s, g in weather.groupby("site_id")
    }
    return meters, consumption, temperature


# --- the run ----------------------------------------------------------------------------------------


class GlobalModels:
    """mlforecast's global models, one per meter type and first origin, fitted on first use.

    Each is trained on every meter of the type in this run (``--meters``/``--types`` choose them).
    """

    def __init__(
        self, meters: list[Meter], consumption: dict[str, pd.Series], temperature: dict[str, pd.Series]
    ):
        self.meters, self.consumption, self.temperature = meters, consumption, temperature
        self.fitted: dict[tuple[str, pd.Timestamp], tuple[Callable[[str], Forecast], float, int]] = {}

    def get(self, meter_type: str, cutoff: pd.Timestamp) -> tuple[Callable[[str], Forecast], float]:
        """The model and its fit seconds per series in it (every meter of the type, before ``cutoff``)."""
        key = (meter_type, cutoff)
        if key not in self.fitted:
            same = [m for m in self.meters if m.meter_type == meter_type]
            trains = {m.meter_id: self.consumption[m.meter_id] for m in same}
            trains = {k: v[v.index < cutoff] for k, v in trains.items()}
            trains = {k: v for k, v in trains.items() if len(v) >= 24 * 14}
            temps = {m.meter_id: self.temperature.get(m.site_id) for m in same}
            started = time.perf_counter()
            model = mlforecast_fit(trains, temps)
            seconds = time.perf_counter() - started
            print(
                f"  mlforecast {meter_type} until {cutoff.date()}: {len(trains)} series, {seconds:.1f} s",
                flush=True,
            )
            self.fitted[key] = (model, seconds, len(trains))
        model, seconds, count = self.fitted[key]
        return model, seconds / count


def run_meter(
    meter: Meter,
    series: pd.Series,
    temperature: pd.Series | None,
    days: int,
    peers: tuple[str, ...],
    models: GlobalModels,
    members: OurGlobalMembers,
) -> dict[str, Run | str]:
    """Every tool on one meter: a ``Run``, or the error text where the tool failed."""
    runs: dict[str, Run | str] = {}
    try:
        runs["ours"] = ours(series, temperature, meter, days, members)
    except Exception as exc:
        runs["ours"] = f"{type(exc).__name__}: {exc}"
    cutoff = backtest_origins(series, meter.meter_id, days)[1][0]
    for name in peers:
        try:
            if name == "openstef":
                runs[name] = peer_run(
                    series, meter, days, lambda train: openstef_fit(train, temperature, meter)
                )
            elif name == "skforecast":
                runs[name] = peer_run(
                    series, meter, days, lambda train: skforecast_fit(train, temperature, meter)
                )
            else:
                model, share = models.get(meter.meter_type, cutoff)
                per_meter = model(meter.meter_id)
                runs[name] = peer_run(series, meter, days, lambda _train, f=per_meter: f, share)
        except Exception as exc:
            runs[name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc(limit=3)
    done = [runs[p] for p in PEERS if isinstance(runs.get(p), Run)]
    if len(peers) > 1 and len(done) == len(peers):
        runs[AVERAGE] = average_run(done)  # type: ignore[arg-type]
    for run in runs.values():
        if isinstance(run, Run):
            run.metrics = score(run.table)
    return runs


def fmt(value: float | str | None, spec: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "n/a".rjust(len(format(0.0, spec)))
    return format(value, spec)


def summary_rows(rows: list[dict[str, object]], tools: list[str]) -> list[dict[str, object]]:
    """Per group (and all meters) and tool: the medians and the share beating the best baseline."""
    out = []
    groups = [*sorted({str(r["group"]) for r in rows}), "all meters"]
    for group in groups:
        for tool in tools:
            chosen = [r for r in rows if r["tool"] == tool and group in ("all meters", r["group"])]
            if not chosen:
                continue

            def med(key: str, chosen: list[dict[str, object]] = chosen) -> float | None:
                values = [float(r[key]) for r in chosen if r.get(key) is not None]  # type: ignore[arg-type]
                return statistics.median(values) if values else None

            ratios = [r["ratio"] for r in chosen if r.get("ratio") is not None]
            out.append(
                {
                    "group": group,
                    "tool": tool,
                    "meters": len(chosen),
                    "failed": sum(1 for r in chosen if r.get("error")),
                    "ratio": med("ratio"),
                    "beating": 100.0 * sum(1 for x in ratios if float(x) < 1.0) / len(chosen),  # type: ignore[arg-type]
                    "coverage": med("coverage"),
                    "crps": med("crps"),
                    "rcrps": med("rcrps"),
                    "rpinball": med("rpinball"),
                    "fit_s": med("fit_seconds"),
                    "total_s": med("seconds"),
                }
            )
    return out


def print_table(summary: list[dict[str, object]]) -> None:
    print(
        f"\n{'group':34} {'tool':10} {'meters':>6} {'ratio':>6} {'beat%':>5} {'cov80%':>6} "
        f"{'CRPS':>9} {'rCRPS':>6} {'rPinb':>6} {'fit_s':>6} {'s/met':>6}"
    )
    last = None
    for s in summary:
        if last is not None and s["group"] != last:
            print()
        last = s["group"]
        failed = f" ({s['failed']} failed)" if s["failed"] else ""
        print(
            f"{s['group']:34} {s['tool']:10} {s['meters']:6d} {fmt(s['ratio'], '6.3f')} "
            f"{fmt(s['beating'], '5.0f')} {fmt(s['coverage'], '6.1f')} {fmt(s['crps'], '9.3f')} "
            f"{fmt(s['rcrps'], '6.4f')} {fmt(s['rpinball'], '6.4f')} {fmt(s['fit_s'], '6.1f')} "
            f"{fmt(s['total_s'], '6.1f')}{failed}"
        )


CSV_FIELDS = (
    "meter",
    "type",
    "group",
    "tool",
    "hours",
    "cv_rmse",
    "best_baseline",
    "cv_baseline",
    "ratio",
    "nmbe",
    "coverage",
    "crps",
    "rcrps",
    "rpinball",
    "fit_seconds",
    "seconds",
    "note",
    "error",
)


def read_rows(path: Path) -> list[dict[str, object]]:
    """The rows of a CSV written by ``--out``, numbers as floats and empty cells left out."""
    numeric = set(CSV_FIELDS) - {"meter", "type", "group", "tool", "best_baseline", "note", "error"}
    with path.open(newline="") as handle:
        return [
            {k: float(v) if k in numeric else v for k, v in row.items() if v != ""}
            for row in csv.DictReader(handle)
        ]


def reused_rows(saved: list[dict[str, object]], meter_id: str) -> list[dict[str, object]]:
    """The saved rows of one meter for every tool but ours, in the saved order (``--reuse``)."""
    return [r for r in saved if r.get("meter") == meter_id and r.get("tool") != "ours"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--meters", default="", help="comma-separated meter ids (default: all)")
    parser.add_argument("--types", default="", help="comma-separated meter types (default: all)")
    parser.add_argument("--days", type=int, default=28, help="daily origins (the last N days)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"subset of {','.join(PEERS)}")
    parser.add_argument("--out", type=Path, default=None, help="write one CSV row per meter and tool here")
    parser.add_argument("--table-from", type=Path, default=None, help="print the table of a saved --out CSV")
    parser.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="run ours only; take the peers' rows from this saved --out CSV",
    )
    args = parser.parse_args(argv)
    if args.table_from:
        rows = read_rows(args.table_from)
        print_table(summary_rows(rows, [t for t in TOOLS if any(r["tool"] == t for r in rows)]))
        return 0
    peers = tuple(p for p in PEERS if p in {x.strip() for x in args.peers.split(",") if x.strip()})
    unknown = {x.strip() for x in args.peers.split(",") if x.strip()} - set(PEERS)
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(sorted(unknown))}; choose from {', '.join(PEERS)}")
    saved: list[dict[str, object]] = []
    if args.reuse:
        if not args.reuse.is_file():
            parser.error(f"--reuse {args.reuse}: no such file (a CSV written by --out)")
        saved, peers = read_rows(args.reuse), ()

    meters, consumption, temperature = load(args.data_dir)
    wanted = {m for m in args.meters.split(",") if m}
    types = {t for t in args.types.split(",") if t}
    chosen = [
        m for m in meters if (not wanted or m.meter_id in wanted) and (not types or m.meter_type in types)
    ]
    if not chosen:
        parser.error("no meter matches --meters/--types")
    models = GlobalModels(chosen, consumption, temperature)
    members = OurGlobalMembers(chosen, consumption, temperature)
    run_tools = ["ours", *peers, *([AVERAGE] if len(peers) > 1 else [])]
    tools = [t for t in TOOLS if t in run_tools or any(r.get("tool") == t for r in saved)]
    rows: list[dict[str, object]] = []
    started = time.perf_counter()
    out = None
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        out = args.out.open("w", newline="")
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
    print(f"{'meter':16} {'tool':10} {'ratio':>6} {'cov80%':>6} {'rCRPS':>6} {'s':>6}")
    for meter in chosen:
        group = group_of(meter.meter_id, meter.meter_type)
        runs = run_meter(
            meter,
            consumption[meter.meter_id],
            temperature.get(meter.site_id),
            args.days,
            peers,
            models,
            members,
        )
        for tool in run_tools:
            run = runs.get(tool)
            row: dict[str, object] = {
                "meter": meter.meter_id,
                "type": meter.meter_type,
                "group": group,
                "tool": tool,
            }
            if isinstance(run, Run):
                row.update(run.metrics, fit_seconds=run.fit_seconds, seconds=run.seconds, note=run.note)
                print(
                    f"{meter.meter_id:16} {tool:10} {fmt(row.get('ratio'), '6.3f')} "  # type: ignore[arg-type]
                    f"{fmt(row.get('coverage'), '6.1f')} {fmt(row.get('rcrps'), '6.4f')} "  # type: ignore[arg-type]
                    f"{run.seconds:6.1f}",
                    flush=True,
                )
            else:
                row["error"] = run or "not run (a peer failed)"
                print(f"{meter.meter_id:16} {tool:10} failed: {row['error']}", flush=True)
            rows.append(row)
            if out is not None:  # row by row, so that a long run interrupted keeps what it measured
                writer.writerow(row)
                out.flush()
        for row in reused_rows(saved, meter.meter_id):
            rows.append(row)
            if out is not None:
                writer.writerow(row)
                out.flush()
    summary = summary_rows(rows, tools)
    print_table(summary)
    print(
        "\nratio = CV(RMSE) / best seasonal-naive baseline's on the same hours (median); beat% = meters "
        "with ratio < 1 (a failure counts as not beating); cov80% = actuals inside P10-P90 (median); "
        "CRPS from P10/P50/P90 (median, load units); rCRPS = CRPS / (P99 - P1 of the load); "
        "rPinb = mean pinball loss / (P99 - P1); fit_s = fit seconds per meter (a global model's "
        "divided by its series); s/met = seconds per meter with the 28 forecasts (median)."
    )
    print(f"elapsed {time.perf_counter() - started:.1f} s")
    if out is not None:
        out.close()
        print(f"per-meter results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
