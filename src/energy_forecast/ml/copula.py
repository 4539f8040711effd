"""Empirical copula (Schaake shuffle): calibrated marginals, dependence from residual-day paths.

Resampled residual days carry the *dependence* between the hours of a day and between the meters
of a group (the same calendar day is drawn for every member), but their *spread* comes from a few
ordinary weeks only. A meter's calibrated quantiles (split-conformal offsets from its whole
hold-out, widened on later days) are the better marginal. The Schaake shuffle (Clark et al. 2004,
"The Schaake shuffle: a method for reconstructing space-time variability in forecasted
precipitation and temperature fields") keeps both: at each hour the ``S`` residual-day draws
are ranked, and the path of rank ``r`` takes the meter's quantile at level ``(r + 0.5) / S``.
Every hour's ``S`` values are then that hour's calibrated quantile function read on an even
grid, and the paths' ranks, hence their rank correlation across hours and members, are those of
the residual days.

Ties (paths that drew the same calendar day hold equal residuals) are broken by path index, the
same way for every hour and member, so paths that read one day stay in one order everywhere and
members that drew the same day stay co-ranked.

Pure: NumPy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def uniform_ranks(scores: np.ndarray) -> np.ndarray:
    """``(S, hours)`` levels ``(rank + 0.5) / S`` of each path within its hour column.

    Ranks are ascending in the score; equal scores are ordered by path index (a stable sort).
    """
    scores = np.asarray(scores, dtype="float64")
    size = scores.shape[0]
    order = np.argsort(scores, axis=0, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(size)[:, None], axis=0)
    return (ranks + 0.5) / size


def read_quantiles(u: np.ndarray, levels: Sequence[float], quantiles: np.ndarray) -> np.ndarray:
    """Each hour's quantile function (``quantiles[i, h]`` at ``levels[i]``) read at levels ``u``.

    ``u`` is ``(S, hours)``. Linear between levels, flat beyond the outermost; the quantiles are
    sorted by level and made non-decreasing first, so the result is monotone in ``u``.
    """
    order = np.argsort(levels)
    grid = np.asarray(levels, dtype="float64")[order]
    table = np.maximum.accumulate(np.asarray(quantiles, dtype="float64")[order], axis=0)
    position = np.interp(np.asarray(u, dtype="float64"), grid, np.arange(len(grid), dtype="float64"))
    low = np.floor(position).astype("int64")
    high = np.minimum(low + 1, len(grid) - 1)
    weight = position - low
    columns = np.arange(table.shape[1])[None, :]
    return (1.0 - weight) * table[low, columns] + weight * table[high, columns]


def schaake_paths(
    scores: np.ndarray,
    levels: Sequence[float],
    quantiles: np.ndarray,
    *,
    clip: bool = True,
) -> np.ndarray:
    """``(S, hours)`` paths whose hour-``h`` values are the quantiles at the ranks of ``scores``.

    ``scores`` are the residual-day draws (any increasing transform of them ranks the same: the
    point forecast added, a positive widening); ``quantiles`` the meter's calibrated quantile
    function per hour, ``(len(levels), hours)``.
    """
    paths = read_quantiles(uniform_ranks(scores), levels, quantiles)
    return np.maximum(paths, 0.0) if clip else paths
