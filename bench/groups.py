"""Group backtests on the development data: the Cambridge site and the water network.

Imports ``--data-dir`` into a throw-away DuckDB store (the import makes ``site-<site_id>`` for
every site with two meters or more of a type; the development data's sites get their holiday
country and zone, as ``POST /location/`` would give them), then runs the product's group backtest
(``services.group_backtest.backtest_group``: members' day-ahead rolling-origin backtests on the
same origins, summed; quantiles of the total from the members' joint hold-out residual days,
all before the first origin) and prints per group: members, CV(RMSE) of the total and of the
best summed baseline, their ratio, and the observed coverage of P10, P90 and the P10-P90 band,
beside the coverage of the members' P10/P90 simply added up. ``--variants`` scores several ways of
drawing the total from the same member backtests: ``copula:28`` (the served method: each
member's calibrated quantiles, ranked by its last 28 residual days) or ``residual:28`` (the
residual days added to the point as they are), with any number of residual days kept. Without
``--fleet`` no global member is trained (each member's ensemble is its own model and its best
seasonal naive). A bench, not a test:

    nice -n 10 .venv/bin/python -P bench/groups.py [--data-dir ../shared/data] [--days 28]
        [--groups site-ucam_bedford,site-bwdf_it] [--size 500] [--json out.json]
        [--variants copula:28,residual:28,copula:56]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

# Before XGBoost loads OpenMP: its threads otherwise spin while the other benches use the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import SITES  # each site's holiday country and zone, as every bench reads them
from energy_forecast.services.group_backtest import backtest_members, score_group
from energy_forecast.services.ingestion import import_directory
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

DEFAULT_GROUPS = "site-ucam_bedford,site-bwdf_it"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--groups", default=DEFAULT_GROUPS)
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--variants", default="copula:28", help="method:days,... (method copula|residual)")
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.1f} (1 min)", flush=True)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBSeriesStore(Path(tmp) / "bench.duckdb")
        import_directory(store, args.data_dir)
        # What POST /location/ adds: the country gives the members their holiday and end-of-year
        # break features, as for a configured install (an import alone registers sites without).
        for site in store.list_sites():
            if site.site_id in SITES:
                country, zone = SITES[site.site_id]
                store.upsert_site(replace(site, country=country, timezone=zone))
        store.upsert_meters(
            [replace(m, timezone=SITES.get(m.site_id, ("", m.timezone))[1]) for m in store.list_meters()]
        )
        for group_id in args.groups.split(","):
            group = store.get_group(group_id)
            if group is None:
                print(
                    f"{group_id}: no such group (known: {', '.join(g.group_id for g in store.list_groups())})"
                )
                return 1
            variants = [(v.split(":")[0], int(v.split(":")[1])) for v in args.variants.split(",")]
            started = time.perf_counter()
            members = backtest_members(
                store, group_id=group_id, meter_type=group.meter_type, days=args.days,
                keep_days=max(k for _, k in variants),
            )  # fmt: skip
            seconds = round(time.perf_counter() - started, 1)
            for method, keep in variants:
                result = score_group(members, size=args.size, keep_days=keep, copula=method == "copula")
                summary = result["summary"]
                summary["seconds"], summary["variant"] = seconds, f"{method}:{keep}"
                results[f"{group_id} {method}:{keep}"] = summary
                _print(summary)
        store.close()
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def _print(s: dict) -> None:
    model, naive = s["model"], s["summed_member_quantiles"]
    best = s["baselines"][s["best_baseline"]]["cv_rmse_percent"] if s["best_baseline"] else None
    print(
        f"{s['group_id']} ({s['meter_type']}, {s['members']} meters, {s['fallbacks']} on fallback, "
        f"{s['members_with_residual_days']} with residual days; variant {s['variant']}; {s['days']} days "
        f"{s['first_origin'][:10]}..{s['last_origin'][:10]}; {s['seconds']} s)"
    )
    print(
        f"  CV(RMSE) total {model['cv_rmse_percent']:.2f} %, best summed baseline ({s['best_baseline']}) "
        f"{best:.2f} %, ratio {s['cv_rmse_ratio_to_best_baseline']:.3f}"
    )
    print(
        f"  joint scenarios:        P10 {model['coverage_p10_percent']:.1f} %, "
        f"P90 {model['coverage_p90_percent']:.1f} %, P10-P90 {s['band_coverage_percent']:.1f} %; "
        f"CRPS {model['crps']:.2f}, rCRPS {model['rcrps']:.4f}"
    )
    print(
        f"  members' P10/P90 added: P10 {naive['coverage_p10_percent']:.1f} %, "
        f"P90 {naive['coverage_p90_percent']:.1f} %, P10-P90 {naive['band_coverage_percent']:.1f} %",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
