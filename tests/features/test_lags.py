"""Feature math checked against an independent oracle: DuckDB window SQL on the hourly grid."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from energy_forecast.features import FeatureSpec, build_features
from energy_forecast.features.lags import window_stat
from tests.features.conftest import synthetic_temperature

SPEC = FeatureSpec(
    calendar=(),
    lags=(24, 168),
    windows=(24, 168),
    window_stats=("mean", "std", "min", "max"),
    window_shift=24,
    same_hour_days=(7,),
    temperature_windows=(24,),
)


def oracle(load: pd.Series, temperature: pd.Series) -> pd.DataFrame:
    """The same features computed by DuckDB window functions over a grid with NULL gaps."""
    grid = pd.date_range(load.index[0], load.index[-1], freq="h", tz="UTC")
    frame = pd.DataFrame(
        {
            "ts": grid.tz_localize(None),
            "y": load.reindex(grid).to_numpy(),
            "t": temperature.reindex(grid).to_numpy(),
        }
    )
    windows = []
    for w, need in ((24, 6), (168, 42)):
        frame_clause = f"ROWS BETWEEN {w + 23} PRECEDING AND 24 PRECEDING"
        for stat, fn in (("mean", "AVG"), ("std", "STDDEV_SAMP"), ("min", "MIN"), ("max", "MAX")):
            windows.append(
                f"CASE WHEN COUNT(y) OVER (ORDER BY ts {frame_clause}) >= {need} "
                f"THEN {fn}(y) OVER (ORDER BY ts {frame_clause}) END AS roll_{stat}_{w}h"
            )
    sql = f"""
        SELECT ts,
               LAG(y, 24) OVER (ORDER BY ts) AS lag_24h,
               LAG(y, 168) OVER (ORDER BY ts) AS lag_168h,
               {", ".join(windows)},
               (SELECT AVG(g2.y) FROM frame g2
                 WHERE g2.ts < g.ts AND g2.ts >= g.ts - INTERVAL 168 HOUR
                   AND date_diff('hour', g2.ts, g.ts) % 24 = 0) AS same_hour_mean_7d,
               t AS temp_c,
               CASE WHEN COUNT(t) OVER (ORDER BY ts ROWS BETWEEN 23 PRECEDING AND CURRENT ROW) >= 12
                    THEN AVG(t) OVER (ORDER BY ts ROWS BETWEEN 23 PRECEDING AND CURRENT ROW) END
                 AS temp_mean_24h
        FROM frame g ORDER BY ts
    """
    with duckdb.connect() as connection:
        connection.register("frame", frame)
        result = connection.sql(sql).df()
    return result.set_index("ts").astype("float64")


@pytest.mark.parametrize("gap", [pytest.param(False, id="complete"), pytest.param(True, id="with-gaps")])
def test_features_match_duckdb_window_sql(load: pd.Series, gap: bool) -> None:
    temperature = synthetic_temperature(load)
    if gap:
        load = load.drop(load.index[300:340]).drop(load.index[600:601])
        temperature = temperature.drop(temperature.index[500:530])
    ours = build_features(load, temperature, SPEC)
    expected = oracle(load, temperature)
    for column in expected.columns:
        np.testing.assert_allclose(
            ours[column].to_numpy(), expected[column].to_numpy(), rtol=1e-9, atol=1e-9, err_msg=column
        )


def test_window_stat_ignores_nan_and_needs_min_periods() -> None:
    windows = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 5.0], [np.nan, np.nan, np.nan]])
    np.testing.assert_array_equal(window_stat(windows, "mean", 2), [2.0, np.nan, np.nan])
    np.testing.assert_array_equal(window_stat(windows, "min", 1), [1.0, 5.0, np.nan])
    np.testing.assert_array_equal(window_stat(windows, "max", 1), [3.0, 5.0, np.nan])
    np.testing.assert_allclose(window_stat(windows, "std", 2), [np.sqrt(2.0), np.nan, np.nan])


def test_degree_hours_follow_their_bases(load: pd.Series) -> None:
    temperature = pd.Series(np.linspace(-5, 35, len(load)), index=load.index)
    features = build_features(load, temperature, FeatureSpec(heating_base_c=15.5, cooling_base_c=22.0))
    t = features["temp_c"].to_numpy()
    np.testing.assert_allclose(features["hdh"], np.maximum(15.5 - t, 0))
    np.testing.assert_allclose(features["cdh"], np.maximum(t - 22.0, 0))
