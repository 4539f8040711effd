"""Consumption lags, shifted windows and same-hour means: all strictly in the past.

Every column for hour ``t`` reads grid slots at or before ``t - shift`` with ``shift >= 1``: a window
is shifted first and rolled second (mlforecast's rule). The seed's ``rolling(24).mean()`` included
the hour being predicted, which leaks the target; here that cannot happen by construction, and
``tests/features/test_lags.py`` proves it by perturbing the future.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

WINDOW_STATS = ("mean", "std", "min", "max")


def _take(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``values[positions]`` with NaN where a position falls before the grid."""
    out = np.full(len(positions), np.nan)
    ok = positions >= 0
    out[ok] = values[positions[ok]]
    return out


def lag_columns(values: np.ndarray, positions: np.ndarray, lags: Sequence[int]) -> dict[str, np.ndarray]:
    """``lag_{k}h``: the reading ``k`` hours before each target hour."""
    return {f"lag_{k}h": _take(values, positions - k) for k in lags}


def window_columns(
    values: np.ndarray,
    positions: np.ndarray,
    windows: Sequence[int],
    stats: Sequence[str],
    shift: int,
) -> dict[str, np.ndarray]:
    """``roll_{stat}_{w}h``: a statistic over the ``w`` hours ending ``shift`` hours before the target.

    A window needs a quarter of its hours present (two for ``std``); otherwise NaN.
    """
    unknown = set(stats) - set(WINDOW_STATS)
    if unknown:
        raise ValueError(f"unknown window statistics {sorted(unknown)}; choose from {WINDOW_STATS}")
    series = pd.Series(values)
    columns: dict[str, np.ndarray] = {}
    for window in windows:
        min_periods = max(1, window // 4)
        for stat in stats:
            rolling = series.rolling(window, min_periods=max(min_periods, 2 if stat == "std" else 1))
            rolled = getattr(rolling, stat)().to_numpy()
            columns[f"roll_{stat}_{window}h"] = _take(rolled, positions - shift)
    return columns


def same_hour_columns(
    values: np.ndarray, positions: np.ndarray, days: Sequence[int], shift: int
) -> dict[str, np.ndarray]:
    """``same_hour_mean_{n}d``: mean of the same hour on the ``n`` latest days at least ``shift`` back.

    The first day used is ``ceil(shift / 24)`` days back, so the column obeys the same leakage bound
    as the lags. Missing days are skipped; with none present the value is NaN.
    """
    first = max(1, -(-shift // 24))
    columns: dict[str, np.ndarray] = {}
    for n_days in days:
        total = np.zeros(len(positions))
        count = np.zeros(len(positions))
        for day in range(first, first + n_days):
            taken = _take(values, positions - 24 * day)
            present = np.isfinite(taken)
            total[present] += taken[present]
            count[present] += 1
        mean = np.full(len(positions), np.nan)
        np.divide(total, count, out=mean, where=count > 0)
        columns[f"same_hour_mean_{n_days}d"] = mean
    return columns
