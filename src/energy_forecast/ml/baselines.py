"""Seasonal-naive baselines: what a forecast has to beat to be worth buying.

Each baseline for target hour ``t = origin + lead`` reads only readings before ``origin``: the same
hour on the latest day (or week) that lies entirely before the origin, or the mean of the same hour
over the latest seven such days. With ``lead < 24`` (a day-ahead forecast) they are simply
``y[t-24]``, ``y[t-168]`` and ``mean(y[t-24k], k=1..7)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_forecast.features.grid import HOUR, hourly_index, on_grid

BASELINES = ("naive_1d", "naive_7d", "mean_7d")


def baseline_frame(consumption: pd.Series, index: pd.DatetimeIndex, lead_hours: np.ndarray) -> pd.DataFrame:
    """The three baselines for target hours ``index`` made ``lead_hours`` (0-based) after their origin.

    The caller guarantees that ``consumption`` holds nothing at or after each target's origin that it
    should not see; ``baselines_at`` does that slicing for a single origin.
    """
    lead = np.asarray(lead_hours, dtype=np.int64)
    if len(index) == 0:
        return pd.DataFrame({name: np.array([], dtype="float64") for name in BASELINES}, index=index)
    day_back = lead // 24 + 1
    week_back = lead // 168 + 1
    reach = int(max((day_back.max() + 6) * 24, week_back.max() * 168))
    grid = hourly_index(index[0] - reach * HOUR, index[-1])
    values = on_grid(consumption, grid)
    positions = np.rint(np.asarray((index - grid[0]) / HOUR, dtype="float64")).astype(np.int64)

    total = np.zeros(len(index))
    count = np.zeros(len(index))
    for extra in range(7):
        taken = values[positions - 24 * (day_back + extra)]
        present = np.isfinite(taken)
        total[present] += taken[present]
        count[present] += 1
    mean_7d = np.full(len(index), np.nan)
    np.divide(total, count, out=mean_7d, where=count > 0)
    return pd.DataFrame(
        {
            "naive_1d": values[positions - 24 * day_back],
            "naive_7d": values[positions - 168 * week_back],
            "mean_7d": mean_7d,
        },
        index=index,
    )


def baselines_at(history: pd.Series, origin: pd.Timestamp, horizon_hours: int) -> pd.DataFrame:
    """Baselines for ``[origin, origin + horizon_hours)`` from readings strictly before ``origin``."""
    past = history[history.index < origin]
    index = hourly_index(origin, origin + (horizon_hours - 1) * HOUR)
    return baseline_frame(past, index, np.arange(horizon_hours))
