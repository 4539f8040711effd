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

    Each row holds exactly its own window, so a statistic over it does not depend on where the grid
    starts: training and forecasting compute bit-identical features for the same hour. Consecutive
    ``ends`` (the usual case) give a zero-copy sliding view instead of a gathered copy.
    """
    if len(ends) == 0:
        return np.empty((0, window))
    pad = max(0, window - 1 - int(ends.min()))
    padded = np.concatenate([np.full(pad, np.nan), values]) if pad else values
    rows = ends + pad - window + 1
    view = np.lib.stride_tricks.sliding_window_view(padded, window)
    if np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))) and rows[-1] < len(view):
        return view[rows[0] : rows[0] + len(rows)]
    return view[rows]


def window_stat(windows: np.ndarray, stat: str, min_periods: int) -> np.ndarray:
    """``stat`` over each row ignoring NaN; NaN where fewer than ``min_periods`` values are present."""
    return window_stats(windows, {stat: min_periods})[stat]


def window_stats(windows: np.ndarray, needed: dict[str, int]) -> dict[str, np.ndarray]:
    """Each ``stat: min_periods`` of ``needed`` over the same windows, counting and averaging once.

    Training computes four statistics over a 26k x 168 window matrix; sharing the count and the
    mean between them is a third of the feature-building time, with bit-identical results.
    """
    unknown = set(needed) - set(WINDOW_STATS)
    if unknown:
        raise ValueError(f"unknown window statistic {sorted(unknown)[0]!r}; choose from {WINDOW_STATS}")
    count = np.isfinite(windows).sum(axis=1)
    mean = None
    if "mean" in needed or "std" in needed:
        mean = np.divide(np.nansum(windows, axis=1), count, out=np.zeros(len(windows)), where=count > 0)
    results: dict[str, np.ndarray] = {}
    for stat, min_periods in needed.items():
        if stat == "mean":
            result = mean
        elif stat == "std":
            deviation = windows - mean[:, None]
            squared = np.nansum(deviation * deviation, axis=1)
            result = np.sqrt(np.divide(squared, count - 1, out=np.zeros(len(windows)), where=count > 1))
        elif stat == "min":
            result = np.fmin.reduce(windows, axis=1) if windows.shape[1] else np.full(len(windows), np.nan)
        else:
            result = np.fmax.reduce(windows, axis=1) if windows.shape[1] else np.full(len(windows), np.nan)
        results[stat] = np.where(count >= min_periods, result, np.nan)
    return results


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
        needed = {stat: max(min_periods, 2) if stat == "std" else min_periods for stat in stats}
        for stat, column in window_stats(matrix, needed).items():
            columns[f"roll_{stat}_{window}h"] = column
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


def anchored_columns(
    values: np.ndarray, positions: np.ndarray, lead: np.ndarray, windows: Sequence[int]
) -> dict[str, np.ndarray]:
    """Features read up to the last anchor (the UTC day start) at or before each target hour.

    ``lead`` is the number of hours from that anchor to the target, so the anchor is at
    ``positions - lead`` and only slots before it are read: ``last_obs`` (the hour before the
    anchor), ``anchor_mean_{w}h`` (the ``w`` hours before it) and ``lead_hours`` itself. This is
    what a forecast issued at the anchor knows, so early hours of a day-ahead forecast see the
    latest readings instead of readings a full day old.
    """
    anchor_end = positions - lead - 1
    columns = {"lead_hours": lead.astype("float64"), "last_obs": _take(values, anchor_end)}
    for window in windows:
        matrix = trailing_windows(values, anchor_end, window)
        columns[f"anchor_mean_{window}h"] = window_stat(matrix, "mean", max(1, window // 4))
    # Scale-free anomalies: how the last day and the last hour compare with their own past week.
    week = window_stat(trailing_windows(values, anchor_end, 168), "mean", 42)
    last_week = same_hour_columns(values, anchor_end, [7], 24)["same_hour_mean_7d"]
    day = columns.get("anchor_mean_24h", window_stat(trailing_windows(values, anchor_end, 24), "mean", 6))
    columns["anchor_day_anomaly"] = _ratio(day, week)
    columns["anchor_hour_anomaly"] = _ratio(columns["last_obs"], last_week)
    return columns


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` where the denominator is positive, NaN elsewhere (no warnings)."""
    out = np.full(len(numerator), np.nan)
    ok = np.isfinite(numerator) & (denominator > 0)
    out[ok] = numerator[ok] / denominator[ok]
    return out
