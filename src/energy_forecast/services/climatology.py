"""Site temperature climatology: the stated fallback for future hours without a weather service.

The model reads temperature features, so every forecast hour needs a temperature. Where no weather
provider answers (no coordinates, no network), future hours take the site's typical temperature for that
day-of-year and hour: the mean over every stored year, smoothed by a circular rolling mean over
+-7 days so a single warm week in one year does not become "normal". Hours are UTC hours: at a
fixed site the sun keeps UTC time, not the local clock, so the diurnal cycle has no DST jump.

Where the history does not cover a day of the year (less than a year stored), the smoothing
window borrows from neighbouring days; days still empty take the mean of that hour over all
stored days, a coarser but stated estimate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAYS_IN_TABLE = 366
SMOOTH_DAYS = 7


def climatology_table(temperature: pd.Series, smooth_days: int = SMOOTH_DAYS) -> np.ndarray:
    """Mean temperature by (day-of-year 1..366, UTC hour), a ``366 x 24`` array, NaN if no data."""
    table = np.full((DAYS_IN_TABLE, 24), np.nan)
    values = temperature.dropna()
    if values.empty:
        return table
    index = pd.DatetimeIndex(values.index).tz_convert("UTC")
    day = index.day_of_year.to_numpy() - 1
    hour = index.hour.to_numpy()
    total = np.zeros((DAYS_IN_TABLE, 24))
    count = np.zeros((DAYS_IN_TABLE, 24))
    np.add.at(total, (day, hour), values.to_numpy(dtype="float64"))
    np.add.at(count, (day, hour), 1.0)
    # Circular smoothing: sums over a +-smooth_days window that wraps around new year.
    width = 2 * smooth_days + 1
    kernel = np.ones(width)
    padded_total = np.concatenate([total[-smooth_days:], total, total[:smooth_days]])
    padded_count = np.concatenate([count[-smooth_days:], count, count[:smooth_days]])
    window_total = np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="valid"), 0, padded_total)
    window_count = np.apply_along_axis(lambda c: np.convolve(c, kernel, mode="valid"), 0, padded_count)
    np.divide(window_total, window_count, out=table, where=window_count > 0)
    hour_total, hour_count = total.sum(axis=0), count.sum(axis=0)
    hour_mean = np.full(24, np.nan)
    np.divide(hour_total, hour_count, out=hour_mean, where=hour_count > 0)
    if np.isnan(hour_mean).any():
        hour_mean[np.isnan(hour_mean)] = float(np.nanmean(hour_mean))
    empty = np.isnan(table)
    table[empty] = np.broadcast_to(hour_mean, table.shape)[empty]
    return table


def climatology_at(table: np.ndarray, index: pd.DatetimeIndex) -> np.ndarray:
    """Climatological temperature for each hour of ``index`` (UTC)."""
    utc = pd.DatetimeIndex(index).tz_convert("UTC")
    return table[utc.day_of_year.to_numpy() - 1, utc.hour.to_numpy()]
