"""Consumption lags, shifted windows and same-hour means: all strictly in the past.

Every column for hour ``t`` reads grid slots at or before ``t - shift`` with ``shift >= 1``: a window
is shifted first and rolled second (mlforecast's rule). The seed's ``rolling(24).mean()`` included
the hour being predicted, which leaks the target; here that cannot happen by construction, and
``tests/features/test_lags.py`` proves it by perturbing the future.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

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


def trailing_windows(values: np.ndarray, ends: np.ndarray, window: int) -> np.ndarray:
    """Matrix of the ``window`` grid values ending at each position in ``ends`` (NaN before the grid).

    Each row is gathered on its own, so a statistic over it does not depend on where the grid
    starts: training and forecasting compute bit-identical features for the same hour.
    """
    offsets = np.arange(-window + 1, 1)
    return _take(values, (ends[:, None] + offsets[None, :]).ravel()).reshape(len(ends), window)


def window_stat(windows: np.ndarray, stat: str, min_periods: int) -> np.ndarray:
    """``stat`` over each row ignoring NaN; NaN where fewer than ``min_periods`` values are present."""
    present = np.isfinite(windows)
    count = present.sum(axis=1)
    enough = count >= min_periods
    out = np.full(len(windows), np.nan)
    if stat in ("mean", "std"):
        total = np.where(present, windows, 0.0).sum(axis=1)
        mean = np.divide(total, count, out=np.zeros(len(windows)), where=count > 0)
        if stat == "mean":
            out[enough] = mean[enough]
        else:
            squared = np.where(present, (windows - mean[:, None]) ** 2, 0.0).sum(axis=1)
            variance = np.divide(squared, count - 1, out=np.zeros(len(windows)), where=count > 1)
            out[enough] = np.sqrt(variance[enough])
    elif stat == "min":
        out[enough] = np.where(present, windows, np.inf).min(axis=1)[enough]
    elif stat == "max":
        out[enough] = np.where(present, windows, -np.inf).max(axis=1)[enough]
    else:
        raise ValueError(f"unknown window statistic {stat!r}; choose from {WINDOW_STATS}")
    return out


def window_columns(
    values: np.ndarray,
    positions: np.ndarray,
    windows: Sequence[int],
    stats: Sequence[str],
    shift: int,
) -> dict[str, np.ndarray]:
    """``roll_{stat}_{w}h``: a statistic over the ``w`` hours ending ``shift`` hours before the target.

    A window needs a quarter of its hours present (two for ``std``, sample deviation); else NaN.
    """
    unknown = set(stats) - set(WINDOW_STATS)
    if unknown:
        raise ValueError(f"unknown window statistics {sorted(unknown)}; choose from {WINDOW_STATS}")
    columns: dict[str, np.ndarray] = {}
    for window in windows:
        matrix = trailing_windows(values, positions - shift, window)
        min_periods = max(1, window // 4)
        for stat in stats:
            needed = max(min_periods, 2) if stat == "std" else min_periods
            columns[f"roll_{stat}_{window}h"] = window_stat(matrix, stat, needed)
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
