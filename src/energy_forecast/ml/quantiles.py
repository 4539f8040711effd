"""Calibrated forecast quantiles: offsets from out-of-sample residuals, monotone by construction.

**Method: split-conformal residual quantiles.** A model's residuals on hours it never saw (the
hold-out of ``fit_model``, the fleet's out-of-fold meters, the blend's hold-out) are exchangeable
with its future errors, so the empirical ``q``-quantile of those residuals, added to a new
forecast, is a ``q``-quantile forecast with about ``q`` coverage out of sample (Lei et al. 2018,
"Distribution-free predictive inference for regression"; one-sided per level). Why this and not
quantile regression (one booster per level, as OpenSTEF does): the calibration costs one
``np.quantile`` instead of a fit per level, any list of levels comes from the same residuals
without retraining, and raw quantile boosters need re-calibration anyway (OpenSTEF's raw
quantiles covered 49.6 % of an 80 % band on our meters).

**Grid.** Offsets are stored at a fixed grid of levels (0.005, 0.01 ... 0.99, 0.995 plus 0.025 and
0.975) and read at any requested level by linear interpolation, so changing
``EF_FORECAST_QUANTILES`` needs no retraining; levels outside the grid take its edge offsets
(conservative residual quantiles need more residuals than a hold-out has to go further out).

**Lead-hour bands.** Every consumption feature is at least 24 h old and anchored at the last UTC
midnight, so all hours of the first forecast day see the same information and share one set of
offsets (day-ahead residuals). Later days of a recursive forecast also carry fed-back error: band
``k`` (lead hours ``24(k-1) .. 24k-1``) scales the deviations around the median by a factor
``widen[k-1]`` (1 for the first day), calibrated on multi-day out-of-sample forecasts
(``ml.forecasting.calibrate_widening``) or, given residuals with their lead hours,
by ``from_residuals``.

**No crossing.** ``np.quantile`` is non-decreasing in the level; offsets are additionally made
non-decreasing with a running maximum, interpolation between non-decreasing points is
non-decreasing, widening multiplies the deviations from the median offset by a positive factor,
the target decoding is an increasing affine map, and clipping at zero (``np.maximum``) keeps order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_LEVELS: tuple[float, ...] = (0.1, 0.5, 0.9)
BAND = (0.1, 0.9)  # ``lower``/``upper``: the 80 % band every forecast keeps
GRID: tuple[float, ...] = tuple(
    sorted({round(k / 100, 4) for k in range(1, 100)} | {0.005, 0.025, 0.975, 0.995})
)
MIN_BAND_RESIDUALS = 48
TAIL_LEVELS = (0.05, 0.95)  # beyond these, weighted offsets are never thinner than the plain ones
MAX_WIDEN = 4.0
_KEY = re.compile(r"^p(\d+(?:\.\d+)?)$")


def quantile_key(level: float) -> str:
    """``p`` and the level in percent without trailing zeros: 0.1 -> ``p10``, 0.025 -> ``p2.5``."""
    percent = round(level * 100, 6)
    return f"p{percent:g}" if percent == int(percent) else f"p{percent:.6f}".rstrip("0")


def key_level(key: str) -> float:
    """Inverse of ``quantile_key``. Raises ValueError for a key that is not ``p<percent>``."""
    match = _KEY.match(key)
    if match is None:
        raise ValueError(f"{key!r} is not a quantile key like 'p10' or 'p2.5'")
    return round(float(match.group(1)) / 100, 8)


def parse_levels(text: str | Iterable[float]) -> tuple[float, ...]:
    """Sorted, de-duplicated levels from ``"0.1,0.5,0.9"`` (or numbers).

    Raises:
        ValueError: a value is not a number strictly between 0 and 1, or the list is empty.
    """
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    levels: set[float] = set()
    for part in parts:
        if part == "":
            continue
        try:
            level = float(part)
        except (TypeError, ValueError):
            raise ValueError(f"{part!r} is not a number") from None
        if not 0.0 < level < 1.0 or not math.isfinite(level):
            raise ValueError(f"{part!r} is not strictly between 0 and 1")
        levels.add(round(level, 8))
    if not levels:
        raise ValueError("no quantile level given")
    return tuple(sorted(levels))


def _monotone(values: np.ndarray) -> np.ndarray:
    return np.maximum.accumulate(np.asarray(values, dtype="float64"))


@dataclass(frozen=True)
class QuantileOffsets:
    """Residual quantiles at ``levels`` (a grid), in the residual's units, plus per-day widening.

    ``derived`` marks offsets reconstructed from an older bundle's 80 % band (see ``from_band``).
    """

    levels: tuple[float, ...]
    offsets: tuple[float, ...]
    widen: tuple[float, ...] = ()
    derived: bool = False

    # -- construction ------------------------------------------------------------------------------

    @classmethod
    def from_residuals(
        cls,
        residuals: Any,
        lead_hours: Any | None = None,
        levels: Sequence[float] = GRID,
        weights: Any | None = None,
    ) -> QuantileOffsets:
        """Split-conformal offsets from out-of-sample residuals ``actual - forecast``.

        ``weights`` (one per residual, >= 0) make the offsets weighted quantiles: recency weights
        let the newest residuals speak for the coming days (``recency_weights``).

        With ``lead_hours`` (hours after the origin, one per residual) the offsets come from the
        first day's residuals and each later day gets a widening factor: the ratio of its central
        80 % spread to the first day's, made non-decreasing (a later day is not more certain),
        never below 1, capped at ``MAX_WIDEN``; days with fewer than ``MIN_BAND_RESIDUALS``
        residuals repeat the previous day's factor. Without residuals every offset is zero.
        """
        r = np.asarray(residuals, dtype="float64").ravel()
        grid = tuple(sorted(set(float(v) for v in levels)))
        w = np.ones_like(r) if weights is None else np.asarray(weights, dtype="float64").ravel()
        ok = np.isfinite(r) & np.isfinite(w) & (w >= 0)
        given = weights is not None
        if lead_hours is None:
            return cls(grid, _offsets(r[ok], grid, w[ok] if given else None))
        day = np.asarray(lead_hours, dtype="int64").ravel() // 24
        chosen = ok & (day == 0) if (ok & (day == 0)).sum() >= MIN_BAND_RESIDUALS else ok
        base = r[chosen]
        offsets = _offsets(base, grid, w[chosen] if given else None)
        spread0 = _spread(base)
        widen = [1.0]
        for k in range(1, int(day[ok].max(initial=0)) + 1):
            chosen = r[ok & (day == k)]
            factor = widen[-1]
            if chosen.size >= MIN_BAND_RESIDUALS and spread0 > 0:
                factor = max(widen[-1], min(_spread(chosen) / spread0, MAX_WIDEN))
            widen.append(float(factor))
        return cls(grid, offsets, tuple(widen) if len(widen) > 1 else ())

    @classmethod
    def from_band(
        cls, lower: float, upper: float, level: float = 0.8, widen: Sequence[float] = ()
    ) -> QuantileOffsets:
        """Offsets derived from a central band only (bundles written before quantiles existed).

        The band's own levels are exact; the median is taken as the point forecast (offset 0);
        other levels scale each side by the normal distribution's quantile ratio, an assumption
        (``derived`` is set so callers can say so).
        """
        alpha = (1.0 - level) / 2.0
        z_low, z_high = NormalDist().inv_cdf(alpha), NormalDist().inv_cdf(1.0 - alpha)
        values = []
        for q in GRID:
            z = NormalDist().inv_cdf(q)
            values.append(min(lower, 0.0) * z / z_low if z < 0 else max(upper, 0.0) * z / z_high)
        return cls(GRID, tuple(_monotone(np.array(values)).tolist()), tuple(widen), derived=True)

    # -- use ---------------------------------------------------------------------------------------

    def at(self, levels: Sequence[float], factor: float | np.ndarray = 1.0) -> np.ndarray:
        """Offsets at ``levels`` (shape ``(len(levels),)``, or ``(rows, len(levels))`` for a factor
        per row); deviations from the median offset are scaled by ``factor`` (>= 0)."""
        grid = np.asarray(self.levels, dtype="float64")
        values = _monotone(np.asarray(self.offsets, dtype="float64"))
        wanted = np.interp(np.asarray(levels, dtype="float64"), grid, values)
        median = float(np.interp(0.5, grid, values))
        factor = np.maximum(np.asarray(factor, dtype="float64"), 0.0)
        if factor.ndim == 0:
            return median + (wanted - median) * factor
        return median + (wanted[None, :] - median) * factor[:, None]

    def centred(self) -> QuantileOffsets:
        """The same offsets moved so that the median's is zero: the spread kept, the bias dropped."""
        values = _monotone(np.asarray(self.offsets, dtype="float64"))
        median = float(np.interp(0.5, np.asarray(self.levels, dtype="float64"), values))
        return replace(self, offsets=tuple((values - median).tolist()))

    def block_factor(self, number: int) -> float | None:
        """Widening factor of recursive block ``number`` (1 = the first day); None when uncalibrated."""
        if not self.widen:
            return None
        return float(self.widen[min(number, len(self.widen)) - 1])

    def with_widen(self, widen: Sequence[float]) -> QuantileOffsets:
        return replace(self, widen=tuple(float(w) for w in widen))

    def to_dict(self) -> dict[str, Any]:
        return {
            "levels": list(self.levels),
            "offsets": list(self.offsets),
            "widen": list(self.widen),
            "derived": self.derived,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuantileOffsets:
        levels = tuple(float(v) for v in data["levels"])
        offsets = tuple(float(v) for v in data["offsets"])
        if len(levels) != len(offsets) or not levels:
            raise ValueError("quantile offsets need one offset per level")
        widen = tuple(float(v) for v in data.get("widen", ()))
        return cls(levels, offsets, widen, bool(data.get("derived", False)))


def _offsets(
    residuals: np.ndarray, grid: Sequence[float], weights: np.ndarray | None = None
) -> tuple[float, ...]:
    if residuals.size == 0:
        return (0.0,) * len(grid)
    plain = np.quantile(residuals, grid)
    if weights is None or not np.sum(weights) > 0:
        return tuple(_monotone(plain).tolist())
    weighted = weighted_quantile(residuals, weights, grid)
    # Recency weights leave fewer effective residuals; the outermost levels need the most, so
    # there the wider of the weighted and the plain offset is kept (never a thinner tail).
    levels = np.asarray(grid, dtype="float64")
    tails = np.where(levels < TAIL_LEVELS[0], np.minimum(weighted, plain), np.maximum(weighted, plain))
    outer = (levels < TAIL_LEVELS[0]) | (levels > TAIL_LEVELS[1])
    return tuple(_monotone(np.where(outer, tails, weighted)).tolist())


def weighted_quantile(values: np.ndarray, weights: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Quantiles of ``values`` where each counts ``weights`` times (midpoints of the cumulative
    weight, interpolated; with equal weights this is the Hazen plotting position)."""
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values, dtype="float64")[order], np.asarray(weights, dtype="float64")[order]
    position = (np.cumsum(w) - 0.5 * w) / np.sum(w)
    return np.interp(np.asarray(levels, dtype="float64"), position, v)


def recency_weights(index: Any, half_life_days: float | None) -> np.ndarray | None:
    """Weights halving every ``half_life_days`` back from the newest timestamp (None: equal)."""
    stamps = pd.DatetimeIndex(index)
    if not half_life_days or len(stamps) == 0:
        return None
    age = np.asarray((stamps.max() - stamps) / pd.Timedelta(days=1), dtype="float64")
    return np.power(0.5, age / half_life_days)


def _spread(residuals: np.ndarray) -> float:
    low, high = np.quantile(residuals, BAND)
    return float(high - low)


def quantile_columns(
    center: np.ndarray,
    spread: np.ndarray,
    offsets: QuantileOffsets,
    levels: Sequence[float],
    factor: Any = 1.0,
) -> dict[float, np.ndarray]:
    """``center + spread * offset(level)`` per level, clipped at zero and non-crossing.

    ``spread`` (>= 0 per row) turns residual units into the meter's unit: 1 when residuals were
    taken in that unit, the row's scale when they were normalised.
    """
    table = offsets.at(levels, factor)
    if table.ndim == 1:
        table = np.broadcast_to(table, (len(center), len(levels)))
    values = (
        np.asarray(center, dtype="float64")[:, None] + np.asarray(spread, dtype="float64")[:, None] * table
    )
    values = np.maximum.accumulate(np.maximum(values, 0.0), axis=1)
    return {level: values[:, i] for i, level in enumerate(levels)}


def reported_levels(levels: Sequence[float]) -> tuple[float, ...]:
    """The levels a forecast frame carries: the configured ones plus the 80 % band and the median."""
    return tuple(sorted(set(levels) | set(BAND) | {0.5}))


def frame_levels(columns: Iterable[str]) -> tuple[float, ...]:
    """The levels of a forecast frame's ``p..`` columns, in order."""
    found = []
    for name in columns:
        if _KEY.match(str(name)):
            found.append(key_level(str(name)))
    return tuple(sorted(found))


def normalised_offsets(
    actual: Any,
    center: Any,
    spread: Any,
    min_rows: int = MIN_BAND_RESIDUALS,
    weights: Any | None = None,
) -> QuantileOffsets | None:
    """Offsets of ``(actual - center) / spread`` (locally scaled split conformal), None below ``min_rows``.

    Used where a forecast is re-centred (the blend): ``spread`` is the member model's own
    80 % band width, so the offsets follow its level and its later-day widening. ``weights``
    (one per row) give weighted quantiles, as ``QuantileOffsets.from_residuals``.
    """
    a, c, s = (np.asarray(v, dtype="float64").ravel() for v in (actual, center, spread))
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = (a - c) / s
    ok = np.isfinite(scaled) & (s > 0)
    if ok.sum() < min_rows:
        return None
    w = None if weights is None else np.asarray(weights, dtype="float64").ravel()[ok]
    return QuantileOffsets.from_residuals(scaled[ok], weights=w)
