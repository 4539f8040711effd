"""Forecast accuracy metrics that never divide by zero and never warn.

Every function drops hours where the actual or the forecast is not finite, then answers ``None``
when the remaining hours cannot define the metric (no hours, zero mean, zero variance). MAPE is
taken over non-zero actual hours only and reports how many hours it used. CV(RMSE) and NMBE follow
ASHRAE Guideline 14 with ``p = 0`` model parameters (a forecast, not a calibrated baseline model);
NMBE is ``sum(actual - forecast)``, so a positive value means the forecast is too low.

Quantile forecasts are scored by the pinball (quantile) loss per level, CRPS approximated from the
quantiles as twice the mean pinball loss over the levels (the quantile decomposition of CRPS,
``CRPS = 2 * integral of pinball_tau over tau``, on the configured levels: with few levels it is a
coarse approximation, comparable only between forecasts scored on the same levels), rCRPS as
OpenSTEF defines it (CRPS divided by the range P99 - P1 of the observed load, so meters of any
size compare) and each quantile's observed coverage: the share of actuals at or below it, which
should be close to its level.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from energy_forecast.ml.quantiles import quantile_key


def _pairs(actual: Any, predicted: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(actual, dtype="float64").ravel()
    p = np.asarray(predicted, dtype="float64").ravel()
    if a.shape != p.shape:
        raise ValueError(f"actual has {a.size} values, forecast {p.size}")
    keep = np.isfinite(a) & np.isfinite(p)
    return a[keep], p[keep]


def rmse(actual: Any, predicted: Any) -> float | None:
    a, p = _pairs(actual, predicted)
    return float(np.sqrt(mean_squared_error(a, p))) if a.size else None


def mae(actual: Any, predicted: Any) -> float | None:
    a, p = _pairs(actual, predicted)
    return float(mean_absolute_error(a, p)) if a.size else None


def r2(actual: Any, predicted: Any) -> float | None:
    """Coefficient of determination; ``None`` for fewer than 2 hours or constant actuals."""
    a, p = _pairs(actual, predicted)
    if a.size < 2 or float(np.ptp(a)) == 0.0:
        return None
    return float(r2_score(a, p))


def mape_percent(actual: Any, predicted: Any) -> tuple[float | None, int]:
    """Mean absolute percentage error over non-zero actual hours, and the number of hours used."""
    a, p = _pairs(actual, predicted)
    nonzero = a != 0
    used = int(nonzero.sum())
    if used == 0:
        return None, 0
    return float(np.mean(np.abs((a[nonzero] - p[nonzero]) / a[nonzero])) * 100.0), used


def mean_accuracy_percent(actual: Any, predicted: Any) -> float | None:
    """``100 - MAPE``; can be negative when the forecast is off by more than the actuals."""
    value, _ = mape_percent(actual, predicted)
    return None if value is None else 100.0 - value


def cv_rmse_percent(actual: Any, predicted: Any) -> float | None:
    """RMSE as a percentage of the mean actual (ASHRAE Guideline 14 CV(RMSE))."""
    a, p = _pairs(actual, predicted)
    if a.size == 0 or float(np.mean(a)) == 0.0:
        return None
    return float(np.sqrt(mean_squared_error(a, p)) / np.mean(a) * 100.0)


def nmbe_percent(actual: Any, predicted: Any) -> float | None:
    """Normalised mean bias error, percent (ASHRAE Guideline 14); positive = under-forecast."""
    a, p = _pairs(actual, predicted)
    if a.size == 0 or float(np.mean(a)) == 0.0:
        return None
    return float(np.sum(a - p) / (a.size * np.mean(a)) * 100.0)


def wape_percent(actual: Any, predicted: Any) -> float | None:
    """Sum of absolute errors over sum of absolute actuals, percent."""
    a, p = _pairs(actual, predicted)
    total = float(np.sum(np.abs(a)))
    if total == 0.0:
        return None
    return float(np.sum(np.abs(a - p)) / total * 100.0)


def interval_coverage_percent(actual: Any, lower: Any, upper: Any) -> float | None:
    """Share of hours whose actual lies within ``[lower, upper]``, percent."""
    a = np.asarray(actual, dtype="float64").ravel()
    lo = np.asarray(lower, dtype="float64").ravel()
    hi = np.asarray(upper, dtype="float64").ravel()
    keep = np.isfinite(a) & np.isfinite(lo) & np.isfinite(hi)
    if not keep.any():
        return None
    inside = (a[keep] >= lo[keep]) & (a[keep] <= hi[keep])
    return float(inside.mean() * 100.0)


def evaluate(
    actual: Any, predicted: Any, lower: Any | None = None, upper: Any | None = None
) -> dict[str, float | None]:
    """All point metrics (and coverage when bounds are given) as one JSON-ready dict."""
    mape, mape_hours = mape_percent(actual, predicted)
    a, _ = _pairs(actual, predicted)
    result: dict[str, float | None] = {
        "hours": float(a.size),
        "r2": r2(actual, predicted),
        "rmse": rmse(actual, predicted),
        "mae": mae(actual, predicted),
        "mape_percent": mape,
        "mape_hours": float(mape_hours),
        "mean_accuracy_percent": None if mape is None else 100.0 - mape,
        "cv_rmse_percent": cv_rmse_percent(actual, predicted),
        "nmbe_percent": nmbe_percent(actual, predicted),
        "wape_percent": wape_percent(actual, predicted),
    }
    if lower is not None and upper is not None:
        result["coverage_percent"] = interval_coverage_percent(actual, lower, upper)
    return result


def pinball_loss(actual: Any, quantile: Any, level: float) -> float | None:
    """Mean quantile loss ``max(level * (a - q), (level - 1) * (a - q))``; lower is better."""
    a, q = _pairs(actual, quantile)
    if a.size == 0:
        return None
    diff = a - q
    return float(np.mean(np.maximum(level * diff, (level - 1.0) * diff)))


def quantile_coverage_percent(actual: Any, quantile: Any) -> float | None:
    """Share of hours whose actual is at or below the quantile forecast, percent."""
    a, q = _pairs(actual, quantile)
    return float(np.mean(a <= q) * 100.0) if a.size else None


def load_range(actual: Any) -> float | None:
    """P99 - P1 of the observed values: rCRPS's normaliser (None when it is zero)."""
    a = np.asarray(actual, dtype="float64").ravel()
    a = a[np.isfinite(a)]
    if a.size == 0:
        return None
    low, high = np.percentile(a, [1, 99])
    return float(high - low) if high > low else None


def evaluate_quantiles(actual: Any, quantiles: Mapping[float, Any]) -> dict[str, float | None]:
    """``pinball_<key>``, ``coverage_<key>_percent`` per level, ``crps`` and ``rcrps``, on the hours
    where the actual and every quantile are finite (``<key>`` as ``ml.quantiles.quantile_key``)."""
    a = np.asarray(actual, dtype="float64").ravel()
    levels = sorted(quantiles)
    table = {q: np.asarray(quantiles[q], dtype="float64").ravel() for q in levels}
    keep = np.isfinite(a)
    for values in table.values():
        keep &= np.isfinite(values)
    result: dict[str, float | None] = {}
    losses = []
    for q in levels:
        key = quantile_key(q)
        loss = pinball_loss(a[keep], table[q][keep], q)
        result[f"pinball_{key}"] = loss
        result[f"coverage_{key}_percent"] = quantile_coverage_percent(a[keep], table[q][keep])
        if loss is not None:
            losses.append(loss)
    crps = 2.0 * float(np.mean(losses)) if losses else None
    spread = load_range(a[keep])
    result["crps"] = crps
    result["rcrps"] = None if crps is None or spread is None else crps / spread
    return result
