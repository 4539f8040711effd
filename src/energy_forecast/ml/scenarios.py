"""Joint forecast scenarios: sample paths that peaks, costs and group totals are read from.

Marginal quantiles answer "how much in this hour"; a daily peak, a bill with a demand charge or a
site's total need the *joint* behaviour of many hours (and of many meters). A ``Scenarios`` holds
``S`` equally likely hourly paths over the forecast window, each the point forecast plus one draw of
whole out-of-sample error vectors, so any statistic of a path (its maximum, its cost, its sum over
meters) gets a distribution by computing it per path and reading quantiles across paths.

The paths are built by resampling *whole days* of out-of-sample residuals: one draw takes the same
calendar day's residual vector for every hour of a forecast day, and for a group the same day's
vector from every member. This keeps the dependence between hours of a day (a warm afternoon is
warm every hour) and between meters of a site (one weather error hits them all), which a sum of
per-hour quantiles ignores: the quantiles of a sum are not the sums of quantiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_forecast.ml.quantiles import quantile_key

HOURS_PER_DAY = 24
# How a Scenarios' paths depend across hours (``Scenarios.dependence``).
RESIDUAL_DAYS = "residual days"  # whole days of out-of-sample residuals, same calendar day per member
COMONOTONE = "comonotone within a day"  # no stored residual days: the forecast's own quantiles


@dataclass(frozen=True)
class Scenarios:
    """``paths[s, h]`` is scenario ``s`` at hour ``index[h]`` (UTC), in the meter's or group's unit.

    ``point`` is the forecast's value at each hour (the P50 the forecast answers with), ``model``
    names the forecaster that made it, ``members`` counts the meters summed (1 for a meter) and
    ``fallbacks`` how many of them answered with a labelled fallback instead of their own model.
    ``dependence`` says how the paths were drawn (``RESIDUAL_DAYS``, or ``COMONOTONE`` where no
    residual days were stored: exact per-hour quantiles, rank-dependent hours within a day).
    """

    index: pd.DatetimeIndex
    point: np.ndarray
    paths: np.ndarray
    unit: str
    model: str
    members: int = 1
    fallbacks: int = 0
    dependence: str = RESIDUAL_DAYS

    def __post_init__(self) -> None:
        hours = len(self.index)
        if self.point.shape != (hours,):
            raise ValueError(f"point has shape {self.point.shape}, expected ({hours},)")
        if self.paths.ndim != 2 or self.paths.shape[1] != hours or self.paths.shape[0] < 1:
            raise ValueError(f"paths has shape {self.paths.shape}, expected (S >= 1, {hours})")

    @property
    def size(self) -> int:
        """Number of scenarios ``S``."""
        return int(self.paths.shape[0])

    def hourly_quantiles(self, levels: Sequence[float]) -> dict[str, np.ndarray]:
        """Per-hour quantiles across scenarios, keyed ``p10``..., non-decreasing in the level."""
        return quantiles_of(self.paths, levels)


def quantiles_of(samples: np.ndarray, levels: Sequence[float]) -> dict[str, np.ndarray]:
    """Quantiles of ``samples`` along axis 0 (scenarios), keyed like forecast quantiles."""
    ordered = sorted(levels)
    values = np.quantile(np.asarray(samples, dtype="float64"), ordered, axis=0)
    values = np.maximum.accumulate(values, axis=0)  # guard against float noise between levels
    return {quantile_key(level): values[i] for i, level in enumerate(ordered)}
