"""Honest accuracy: a chronological test split (``/test_model/``) and the rolling-origin backtest.

``evaluate_meter`` trains on the first ``1 - test_size`` of the usable hours and scores the rest,
never shuffled. Every consumption feature is at least 24 h old, so predicting a test hour from
features built on observed history is the day-ahead forecast a midnight origin would have made:
the metrics are day-ahead metrics. The intervals are calibrated inside the training part (by
``fit_model``), so their coverage on the test hours is out of sample. Model and seasonal-naive
baselines are scored on the same hours: those where the actual and every baseline exist.

``backtest_meter`` wraps ``ml.fleet_backtest.fleet_backtest`` (the ensemble the meter gets, with
the kept global model that saw nothing of the scored days) with the stored readings and the
site's observed temperature, and renders it as JSON-ready records. The CLI and the API both call
it with the model store, so they report the same figures for the same meter. Nothing here trains
a global model: both read the one kept for backtests (``services.fleet_model.backtest_fleet``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.errors import EnergyForecastError, InsufficientDataError, NoDataFoundError
from energy_forecast.ml.backtest import first_origin, quantile_table
from energy_forecast.ml.baselines import BASELINES, baseline_frame
from energy_forecast.ml.blend import default_prior
from energy_forecast.ml.fleet_backtest import fleet_backtest
from energy_forecast.ml.metrics import evaluate, evaluate_quantiles
from energy_forecast.ml.params import default_spec
from energy_forecast.ml.quality import check_training_data
from energy_forecast.ml.quantiles import DEFAULT_LEVELS, frame_levels, quantile_key
from energy_forecast.ml.training import clean_readings, fit_model, training_frame
from energy_forecast.services.fleet_model import (
    backtest_fleet,
    blended_test_frame,
    fleet_prior_of,
    is_fleet_model,
)
from energy_forecast.services.meters import meter_calendar, registered_meter
from energy_forecast.services.training import load_training_data
from energy_forecast.storage.base import ModelStore, SeriesStore

ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"
PUBLIC_NAMES = {
    "r2": "r2_score",
    "rmse": "rmse",
    "mae": "mae",
    "mean_accuracy_percent": "mean_accuracy_percent",
    "mape_percent": "mape_percent",
    "cv_rmse_percent": "cv_rmse_percent",
    "nmbe_percent": "nmbe_percent",
    "wape_percent": "wape_percent",
    "mape_hours": "mape_hours",
    "coverage_percent": "interval_coverage_percent",
}
QUANTILE_METRICS = re.compile(r"^(pinball_p[0-9.]+|coverage_p[0-9.]+_percent|crps|rcrps)$")
FLEET_KEYS = (
    "r2_score",
    "cv_rmse_percent",
    "nmbe_percent",
    "wape_percent",
    "mape_percent",
    "interval_coverage_percent",
    "baseline_cv_rmse_percent",
    "cv_rmse_ratio_to_baseline",
)
BACKTEST_NOTE = (
    "observed temperature stands in for the weather forecast, so these errors omit weather-forecast "
    "error; the model was trained only on readings before the first origin"
)


@dataclass(frozen=True)
class ModelTestResult:
    """The seed's ``test_results`` content."""

    meter_type: MeterType
    test_samples: int
    metrics: dict[str, float | None]
    baseline_metrics: dict[str, Any]
    performance_summary: dict[str, Any]
    test_window: dict[str, str]
    message: str | None = None


def r2_category(r2: float | None) -> str | None:
    """excellent >= 0.9, good >= 0.8, fair >= 0.6, else poor; None when R² is undefined."""
    if r2 is None:
        return None
    return "excellent" if r2 >= 0.9 else "good" if r2 >= 0.8 else "fair" if r2 >= 0.6 else "poor"


def public_metrics(raw: dict[str, float | None]) -> dict[str, float | None]:
    """``ml.metrics.evaluate`` output under the API's names, NaN as None; quantile scores
    (``pinball_p10``, ``coverage_p10_percent``, ``crps``, ``rcrps``) keep their names."""
    out: dict[str, float | None] = {}
    names = dict(PUBLIC_NAMES)
    names.update({k: k for k in raw if QUANTILE_METRICS.match(k)})
    for name, public in names.items():
        value = raw.get(name)
        out[public] = None if value is None or not math.isfinite(value) else value
    return out


def load_meter(
    store: SeriesStore, meter_id: str, meter_type: MeterType
) -> tuple[Meter, pd.Series, pd.Series]:
    """The registry entry, readings and site temperature of a meter.

    Raises:
        NoDataFoundError: the meter is unknown, of another type, or has no readings.
    """
    meter = registered_meter(store, meter_id, meter_type)
    readings, temperature = load_training_data(store, meter)
    if readings.empty:
        raise NoDataFoundError(f"meter {meter_id!r} has no readings; import them first", meter_id=meter_id)
    return meter, readings, temperature


def _check_test_hours(index: pd.DatetimeIndex, test_size: float, meter_id: str) -> None:
    """Refuse before any feature or fit a split whose test part cannot reach 24 hours: the readings'
    span bounds the usable hours from above (the same rule runs on them below)."""
    span = int((index[-1] - index[0]) / pd.Timedelta(hours=1)) + 1
    if span * test_size + 1 < 24:
        raise InsufficientDataError(
            f"meter {meter_id!r}: the readings span {span} hours, so test_size {test_size:g} leaves under "
            "24 for testing; raise test_size or import more history",
            meter_id=meter_id,
        )


def evaluate_meter(
    store: SeriesStore,
    *,
    meter_id: str,
    meter_type: MeterType,
    test_size: float = 0.2,
    model_store: ModelStore | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
) -> ModelTestResult:
    """Train on the first ``1 - test_size`` of the hours, score model and baselines on the rest.

    The model's quantiles at ``levels`` are scored too (pinball loss, coverage, CRPS, rCRPS).

    Raises:
        ValueError: ``test_size`` outside (0, 1).
        NoDataFoundError, InsufficientDataError, FlatlineError: the data cannot support the split.
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    meter, raw, temperature = load_meter(store, meter_id, meter_type)
    # Before the feature grid is built over the readings' whole span: sparse readings spread over
    # decades (found by the schema fuzz) would build a grid of millions of hours first. Flat lines
    # are left to the training part's check, as before (an all-zero test window gets a message).
    check_training_data(raw, meter_id, flatline_hours=len(raw) + 1)
    _check_test_hours(raw.index, test_size, meter_id)
    readings = clean_readings(raw)
    temp = temperature if not temperature.empty else None
    timezone, country = meter_calendar(store, meter)
    spec = default_spec(meter.meter_type, timezone, country)
    features, target = training_frame(readings, temp, spec)
    cut = round(len(target) * (1.0 - test_size))
    if cut >= len(target) - 24 or cut < 1:
        raise InsufficientDataError(
            f"meter {meter_id!r}: {len(target)} usable hours leave {len(target) - cut} for testing; "
            "at least 24 are needed: raise test_size or import more history",
            meter_id=meter_id,
        )
    test_start = features.index[cut]
    training = fit_model(
        readings[readings.index < test_start],
        temp,
        meter_id=meter_id,
        meter_type=meter.meter_type,
        timezone=timezone,
        country=country,
        spec=spec,
    )
    test = features.iloc[cut:]
    training.model.levels = tuple(levels)
    frame = training.model.predict_interval(test)
    if model_store is not None:  # score the ensemble the meter gets, not its own model alone
        fleet = backtest_fleet(model_store, meter.meter_type, test_start)
        prior = fleet_prior_of(model_store, meter.meter_type)
        frame, _ = blended_test_frame(
            fleet, training, meter_id, readings, temp, frame, (timezone, country), prior
        )
    baselines = baseline_frame(readings, test.index, np.zeros(len(test), dtype=np.int64))
    actual = target[cut:]
    used = np.isfinite(actual) & np.all(np.isfinite(baselines.to_numpy()), axis=1)
    actual, frame, baselines = actual[used], frame[used], baselines[used]

    raw = evaluate(actual, frame["forecast"], frame["lower"], frame["upper"])
    metrics = public_metrics({**raw, **evaluate_quantiles(actual, quantile_table(frame))})
    scored = {name: public_metrics(evaluate(actual, baselines[name])) for name in BASELINES}
    best = min(BASELINES, key=lambda n: _rank(scored[n]))
    message = None
    if actual.size and not np.any(actual != 0):
        message = (
            f"every actual reading in the {actual.size} test hours is zero: R², MAPE, CV(RMSE), NMBE and "
            "WAPE are undefined (null); judge the model by RMSE and MAE, or choose a larger test_size"
        )
    elif actual.size == 0:
        message = "no test hour has both a reading and every baseline; import more history"
    ours, theirs = metrics["cv_rmse_percent"], scored[best]["cv_rmse_percent"]
    return ModelTestResult(
        meter_type=meter.meter_type,
        test_samples=int(actual.size),
        metrics=metrics,
        baseline_metrics={"baseline": best, **scored[best]},
        performance_summary={
            "r2_category": r2_category(metrics["r2_score"]),
            "cv_rmse_ratio_to_baseline": None if ours is None or not theirs else ours / theirs,
            "beats_baseline": None if ours is None or theirs is None else ours < theirs,
        },
        test_window={
            "train_start": readings.index[0].strftime(ISO_UTC),
            "test_start": test_start.strftime(ISO_UTC),
            "test_end": test.index[-1].strftime(ISO_UTC),
        },
        message=message,
    )


def _rank(metrics: dict[str, float | None]) -> tuple[float, float]:
    """Lowest CV(RMSE) first, then lowest RMSE (when CV is undefined, e.g. all-zero actuals)."""
    cv, rmse = metrics["cv_rmse_percent"], metrics["rmse"]
    return (math.inf if cv is None else cv, math.inf if rmse is None else rmse)


def fleet_row(
    store: SeriesStore,
    *,
    meter_id: str,
    meter_type: MeterType,
    version: int | None,
    test_size: float = 0.2,
    model_store: ModelStore | None = None,
) -> dict[str, Any]:
    """One meter's row of the fleet table; a meter whose evaluation fails gets its ``error`` instead."""
    row: dict[str, Any] = {
        "meter_id": meter_id,
        "meter_type": MeterType(meter_type).value,
        "version": version,
    }
    try:
        result = evaluate_meter(
            store, meter_id=meter_id, meter_type=meter_type, test_size=test_size, model_store=model_store
        )
    except EnergyForecastError as exc:
        return {**row, "error": exc.message}
    row.update(
        test_samples=result.test_samples,
        **{k: v for k, v in result.metrics.items() if k in FLEET_KEYS},
        baseline=result.baseline_metrics["baseline"],
        baseline_cv_rmse_percent=result.baseline_metrics["cv_rmse_percent"],
        cv_rmse_ratio_to_baseline=result.performance_summary["cv_rmse_ratio_to_baseline"],
        r2_category=result.performance_summary["r2_category"],
        message=result.message,
    )
    return row


def fleet_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Fleet medians of the rows' metrics (failed rows left out) and the counts."""
    medians: dict[str, float | None] = {}
    for key in FLEET_KEYS:
        values = [r[key] for r in rows if r.get(key) is not None]
        medians[key] = float(np.median(values)) if values else None
    failed = sum(1 for r in rows if "error" in r)
    return {"meters": rows, "fleet_medians": medians, "evaluated": len(rows) - failed, "failed": failed}


def evaluate_fleet(
    store: SeriesStore,
    model_store: ModelStore,
    *,
    meter_type: MeterType | None = None,
    test_size: float = 0.2,
) -> dict[str, Any]:
    """``fleet_row`` for every meter with an active model, in this process (the API runs the same
    rows as one task per meter instead: ``tasks.queue.TaskQueue.enqueue_evaluation``)."""
    rows = [
        fleet_row(
            store,
            meter_id=i.meter_id,
            meter_type=i.meter_type,
            version=i.version,
            test_size=test_size,
            model_store=model_store,
        )
        for i in model_store.list_models(meter_type)
        if not is_fleet_model(i)
    ]
    return fleet_summary(rows)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def short_meter_days(readings: pd.Series, days: int) -> int:
    """``days``, or fewer for a meter too new for them: every day after its first reading's day.

    A meter with a week of readings is backtested on its last six days by the global member
    rather than refused; a history longer than ``days`` keeps the days asked for.
    """
    values = readings.dropna()
    if values.empty:
        return days
    span = int((values.index[-1].floor("D") - values.index[0].floor("D")) / pd.Timedelta(days=1))
    return max(1, min(days, span))


def backtest_meter(
    store: SeriesStore,
    *,
    meter_id: str,
    meter_type: MeterType,
    horizon_hours: int = 24,
    days: int = 28,
    model_store: ModelStore | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
) -> dict[str, Any]:
    """``{"records": [...], "summary": {...}}`` of a rolling-origin backtest over the last ``days``.

    Raises:
        NoDataFoundError: unknown meter or no readings.
        InsufficientDataError, FlatlineError: too little history before the first origin.
    """
    meter, readings, temperature = load_meter(store, meter_id, meter_type)
    timezone, country = meter_calendar(store, meter)
    options: dict[str, Any] = {
        "meter_id": meter_id,
        "meter_type": meter.meter_type,
        "timezone": timezone,
        "country": country,
        "horizon_hours": horizon_hours,
        "days": days,
        "levels": levels,
    }
    temp = temperature if not temperature.empty else None
    days = options["days"] = short_meter_days(readings, days)
    fleet, prior = None, default_prior(meter.meter_type)
    if model_store is not None:
        fleet = backtest_fleet(model_store, meter.meter_type, first_origin(readings, days))
        prior = fleet_prior_of(model_store, meter.meter_type)
    result = fleet_backtest(readings, temp, fleet=fleet, prior=prior, **options)
    table = result.forecasts
    origins = pd.DatetimeIndex(table["origin"]).strftime(ISO_UTC)
    stamps = pd.DatetimeIndex(table["timestamp"]).strftime(ISO_UTC)
    keys = [quantile_key(q) for q in frame_levels(table.columns)]
    quantiles = [dict(zip(keys, row, strict=True)) for row in table[keys].itertuples(index=False)]
    records = [
        {
            "origin": o,
            "timestamp": t,
            "forecast": _clean(f),
            "lower": _clean(lo),
            "upper": _clean(hi),
            "quantiles": {k: _clean(v) for k, v in q.items()},
        }
        for o, t, f, lo, hi, q in zip(
            origins,
            stamps,
            table["forecast"].tolist(),
            table["lower"].tolist(),
            table["upper"].tolist(),
            quantiles,
            strict=True,
        )
    ]
    start, end = result.training.training_window
    summary = {
        "meter_id": meter_id,
        "meter_type": meter.meter_type.value,
        "horizon_hours": horizon_hours,
        "days": days,
        "first_origin": origins[0] if len(origins) else None,
        "last_origin": origins[-1] if len(origins) else None,
        "training_window": {"start": start.strftime(ISO_UTC), "end": end.strftime(ISO_UTC)},
        "model": public_metrics(result.metrics["model"]),
        "baselines": {name: public_metrics(result.metrics[name]) for name in BASELINES},
        "best_baseline": result.best_baseline,
        "cv_rmse_ratio_to_best_baseline": result.skill_ratio,
        "model_kind": result.model_kind,
        "blend": result.blend,
        "note": BACKTEST_NOTE,
    }
    return {"records": records, "summary": summary}
