"""Training and forecasting time: fit_model vs a bare XGBRegressor.fit on the same feature matrix.

    .venv/bin/python bench/train.py [--data-dir ../shared/data] [--meters bwdf_dma03] [--rows 26280]

The longest meter is taken (or the one named); with ``--rows`` its readings are extended backwards
by whole copies of themselves (shifted by their own span) to reach about that many hours, the size
the training budget (~2 s on 2 cores) is stated for. Each figure is the best of ``--repeat`` rounds,
each round timing every path once in turn.
fit_model does a hold-out fit (half the trees at twice the rate) and the final refit plus features,
so a ratio of about 3 to one bare fit is the expected shape; train_meter adds reading the meter and
its temperature from a DuckDB store, learning its ensemble weights against the global member of its
type (trained beforehand, untimed, on this meter and a scaled copy of it: a global member is trained
once per type, not per meter) and writing the model bundle (the whole path a worker runs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import xgboost as xgb

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.ml.fleet import FLEET_MODEL_ID
from energy_forecast.ml.forecasting import forecast
from energy_forecast.ml.params import default_params, default_spec
from energy_forecast.ml.training import fit_model, training_frame
from energy_forecast.services.training import train_meter
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import DEFAULT_DATA, SITES, load


def best_of(repeat: int, action: Callable[[], object]) -> float:
    return best_interleaved(repeat, {"action": action})["action"]


def best_interleaved(repeat: int, actions: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best time of each action over ``repeat`` rounds that run every action once in turn.

    Interleaving puts ours and the bare fit under the same background load in every round, so a
    load that changes during the run moves both instead of the ratio.
    """
    best = dict.fromkeys(actions, float("inf"))
    for _ in range(repeat):
        for name, action in actions.items():
            started = time.perf_counter()
            action()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def extend(series: pd.Series, rows: int) -> pd.Series:
    """Prepend shifted copies of ``series`` until it spans about ``rows`` hours."""
    parts = [series]
    span = series.index[-1] - series.index[0] + pd.Timedelta(hours=1)
    while sum(len(p) for p in parts) < rows:
        parts.insert(0, parts[0].set_axis(parts[0].index - span))
    combined = pd.concat(parts)
    return combined.iloc[-rows:] if len(combined) > rows else combined


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--meters", default="", help="meter id to time (default: the longest)")
    parser.add_argument("--rows", type=int, default=26_280, help="extend to this many hours (0: as is)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    meters, consumption, temperature = load(args.data_dir)
    meter_id = (
        args.meters.split(",")[0] if args.meters else max(consumption, key=lambda m: len(consumption[m]))
    )
    row = meters.set_index("meter_id").loc[meter_id]
    country, timezone = SITES[row["site_id"]]
    meter_type = MeterType(row["meter_type"])
    series = consumption[meter_id]
    weather = temperature.get(row["site_id"])
    if args.rows:
        series = extend(series, args.rows)
        weather = extend(weather, args.rows + 24 * 30) if weather is not None else None
    print(
        f"meter {meter_id} ({meter_type.value}): {len(series)} readings, "
        f"{series.index[0]} .. {series.index[-1]}"
    )

    def ours() -> object:
        return fit_model(
            series, weather, meter_id=meter_id, meter_type=meter_type, timezone=timezone, country=country
        )

    spec = default_spec(meter_type, timezone, country)
    params = default_params(meter_type)
    features, target = training_frame(series, weather, spec)

    def bare() -> object:
        return xgb.XGBRegressor(**params.xgb_kwargs()).fit(features.to_numpy(), target)

    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBSeriesStore(Path(tmp) / "bench.duckdb")
        peer = f"{meter_id}-peer"
        store.upsert_meters(
            [
                Meter(meter_id, meter_type, row["site_id"], timezone=timezone),
                Meter(peer, meter_type, row["site_id"], timezone=timezone),
            ]
        )
        store.write_readings(meter_type, meter_id, series)
        store.write_readings(meter_type, peer, series * 3.0)
        if weather is not None:
            store.write_temperature(row["site_id"], weather)
        models = FileModelStore(Path(tmp) / "models")
        started = time.perf_counter()
        train_meter(store, models, meter_id=FLEET_MODEL_ID, meter_type=meter_type)
        global_s = time.perf_counter() - started

        def service() -> object:
            return train_meter(store, models, meter_id=meter_id, meter_type=meter_type)

        best = best_interleaved(args.repeat, {"service": service, "ours": ours, "bare": bare})
        store.close()
    service_s, ours_s, bare_s = best["service"], best["ours"], best["bare"]
    print(f"bare XGBRegressor    {bare_s:7.3f} s  ({features.shape[0]} rows x {features.shape[1]} features)")
    print(
        f"fit_model            {ours_s:7.3f} s  ratio {ours_s / bare_s:5.2f}"
        "  (features, hold-out fit, final fit)"
    )
    print(
        f"train_meter          {service_s:7.3f} s  ratio {service_s / bare_s:5.2f}"
        "  (+ load from DuckDB, ensemble weights, save bundle)"
    )
    print(f"global member        {global_s:7.3f} s  (once per type, here on 2 meters; not per meter)")

    model = fit_model(
        series, weather, meter_id=meter_id, meter_type=meter_type, timezone=timezone, country=country
    )
    origin = series.index[-1].floor("D") - pd.Timedelta(days=7)
    for horizon in (24, 168):
        seconds = best_of(
            max(args.repeat, 5), lambda h=horizon: forecast(model.model, series, weather, origin, h)
        )
        print(f"forecast {horizon:3d} h       {seconds * 1000:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
