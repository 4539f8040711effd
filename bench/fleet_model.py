"""Fleet-model training cost: time and peak memory of ``fit_fleet`` on N meters of one type.

    .venv/bin/python -P bench/fleet_model.py [--data-dir ../shared/data] [--meters 1000]
        [--type electricity] [--max-rows 400000] [--threads 2]

With ``--meters`` above the real count, copies of the real meters are made, each scaled by a
random factor (0.2-5x) and shifted by a whole number of weeks (so calendars still line up) and
renamed, so no two are identical; meters are handed to the trainer one at a time through its
loader, as the service does, so the figure includes the per-meter feature work and the memory
bound. Peak memory is the process's maximum resident set (``ru_maxrss``), including the data set.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.ml.fleet import MAX_ROWS, FleetMember, fit_fleet
from energy_forecast.ml.params import default_params

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import DEFAULT_DATA, SITES, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--meters", type=int, default=0, help="fleet size (0: the real meters)")
    parser.add_argument("--type", default="electricity")
    parser.add_argument("--max-rows", type=int, default=MAX_ROWS)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    meters, consumption, temperature = load(args.data_dir)
    real = [m for m in meters.itertuples() if m.meter_type == args.type]
    count = args.meters or len(real)
    rng = np.random.default_rng(0)
    plan = {
        f"{real[i % len(real)].meter_id}_c{i}": (
            real[i % len(real)],
            float(rng.uniform(0.2, 5.0)),
            int(rng.integers(0, 4)),
        )
        for i in range(count)
    }

    def loader(meter_id: str) -> FleetMember:
        source, scale, weeks = plan[meter_id]
        shift = pd.Timedelta(weeks=weeks)
        series = consumption[source.meter_id]
        series = series.set_axis(series.index + shift) * scale
        weather = temperature.get(source.site_id)
        if weather is not None:
            weather = weather.set_axis(weather.index + shift)
        country, timezone = SITES[source.site_id]
        return FleetMember(meter_id, series, weather, timezone, country)

    params = replace(default_params(MeterType(args.type)), n_jobs=args.threads)
    hours = sum(len(consumption[plan[m][0].meter_id]) for m in plan)
    started = time.perf_counter()
    fleet = fit_fleet(list(plan), loader, MeterType(args.type), max_rows=args.max_rows, params=params)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    info = fleet.metadata
    print(
        f"fleet model: {info['meters']} {args.type} meters ({hours:,} hourly readings), {info['rows']:,} "
        f"sampled rows, {info['folds']} folds + full model, {seconds:.1f} s, peak RSS {peak_mb:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
