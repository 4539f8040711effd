"""Rolling-origin backtest of daily peak forecasts: the product's forecaster and its scenarios,
scored with the peak-event scores (``ml.peak_scores``).

Protocol: ``ml.fleet_backtest.fleet_backtest`` (the forecaster a meter gets, trained only on the
readings before the first origin) forecasts 48 hours from each 00:00 UTC origin of the last
``days`` days; scenarios are drawn around each forecast as serving draws them: each hour's values
are the forecast's calibrated quantiles, ordered by the ranks of whole days of the forecaster's
hold-out residuals (``ml.copula``, ``ml.residual_days``: what serving reads from the bundle), and
the first local day wholly inside the window (the day-ahead day, in the meter's time zone) is
scored.

Two thresholds are scored: the month-to-date peak at the origin (the default of the API, the
previous month's peak on the 1st), and a fixed one, the ``fixed_quantile`` of the daily peaks
of the training readings (a level that is crossed often enough to count hits and misses).
The seasonal-naive peak (the same local weekday a week earlier, its value and hour) is scored on
the same days, as every accuracy figure here has a baseline beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.ml.blend import DEFAULT_PRIOR, BlendWeights, ensemble_holdout
from energy_forecast.ml.copula import schaake_paths
from energy_forecast.ml.fleet import FleetModel
from energy_forecast.ml.fleet_backtest import fleet_backtest
from energy_forecast.ml.forecasting import block_widening
from energy_forecast.ml.model import ForecastModel
from energy_forecast.ml.peak_scores import PeakOutcome, day_outcome, first_full_day, peak_scores
from energy_forecast.ml.peaks import month_to_date_peak, period_labels
from energy_forecast.ml.quantiles import GRID, frame_levels, quantile_key
from energy_forecast.ml.residual_days import (
    KEEP_DAYS,
    MIN_DAYS,
    ResidualDays,
    block_numbers,
    day_draws,
    residual_draws,
    residual_paths,
)
from energy_forecast.ml.scenarios import Scenarios
from energy_forecast.ml.training import clean_readings

HORIZON_HOURS = 48
FIXED_QUANTILE = 0.75


@dataclass(frozen=True)
class PeakBacktest:
    """Outcomes and scores per threshold rule (``month_to_date``, ``fixed``), plus the naive peak."""

    meter_id: str
    model_kind: str
    outcomes: dict[str, list[PeakOutcome]]
    scores: dict[str, dict[str, float | int | None]]
    naive: dict[str, float | int | None]
    fixed_threshold: float
    residual_days: int
    notes: list[str] = field(default_factory=list)


def _residual_table(
    holdout: pd.DataFrame | None,
    train: pd.Series,
    temperature: pd.Series | None,
    fleet_model: ForecastModel | None,
    blend: dict[str, float | str | int] | None,
    keep_days: int = KEEP_DAYS,
) -> np.ndarray | None:
    """``(days, 24)`` out-of-sample residuals of the answering forecaster (the ensemble's when it
    blends, as training keeps them for serving), or None."""
    frame = holdout
    if frame is None:
        return None
    if blend is not None:
        frame = ensemble_holdout(frame, train, temperature, fleet_model, BlendWeights.from_dict(dict(blend)))
    index = pd.DatetimeIndex(frame.index)
    days = ResidualDays.from_holdout(index, frame["actual"], frame["forecast"], keep_days)
    if days is None:
        return None
    dates, table = days.matrix()
    return table if len(dates) >= MIN_DAYS else None


def daily_peaks(readings: pd.Series, timezone: str) -> pd.DataFrame:
    """Peak value and hour of every complete local day (24 finite hours, 23/25 on clock changes)."""
    labels = period_labels(pd.DatetimeIndex(readings.index), timezone, "day")
    frame = pd.DataFrame({"value": readings.to_numpy(dtype="float64"), "day": labels}, index=readings.index)
    frame = frame[np.isfinite(frame["value"])]
    grouped = frame.groupby("day")["value"]
    sizes = grouped.size()
    full = sizes[sizes >= 23].index
    peaks = pd.DataFrame({"value": grouped.max(), "hour": grouped.idxmax()}).loc[full]
    return peaks


def naive_scores(
    readings: pd.Series, timezone: str, outcomes: Sequence[PeakOutcome]
) -> dict[str, float | int | None]:
    """The seasonal-naive peak (same local weekday a week before) on the scored days."""
    peaks = daily_peaks(readings, timezone)
    errors, hours = [], []
    for outcome in outcomes:
        before = (pd.Timestamp(outcome.day) - pd.Timedelta(days=7)).strftime("%Y-%m-%d")
        if before not in peaks.index:
            continue
        errors.append(abs(float(peaks.loc[before, "value"]) - outcome.actual_peak))
        naive_hour = pd.Timestamp(peaks.loc[before, "hour"]) + pd.Timedelta(days=7)
        hours.append(abs((naive_hour - outcome.actual_hour).total_seconds()) / 3600)
    if not errors:
        return {"days": 0}
    return {
        "days": len(errors),
        "peak_mae": float(np.mean(errors)),
        "hour_mae": float(np.mean(hours)),
        "hour_within_1h": float(np.mean(np.array(hours) <= 1.0)),
    }


def peak_backtest(
    consumption: pd.Series,
    temperature: pd.Series | None,
    *,
    meter_id: str,
    meter_type: MeterType,
    timezone: str = "UTC",
    country: str | None = None,
    days: int = 28,
    size: int = 200,
    seed: int = 0,
    fleet: FleetModel | None = None,
    prior: tuple[float, float, float] | None = DEFAULT_PRIOR,
    decision: float = 0.5,
    fixed_quantile: float = FIXED_QUANTILE,
    copula: bool = True,
    keep_days: int = KEEP_DAYS,
) -> PeakBacktest:
    """Backtest the day-ahead daily peak of one meter over its last ``days`` days.

    ``copula`` (the served method) reads each hour's calibrated quantiles in the order of the
    residual-day draws; without it the residual days are added to the point as they are.

    Raises: what ``fleet_backtest`` raises (too little history before the first origin).
    """
    result = fleet_backtest(
        consumption, temperature, meter_id=meter_id, meter_type=meter_type, fleet=fleet, timezone=timezone,
        country=country, horizon_hours=HORIZON_HOURS, days=days, prior=prior, levels=GRID,
    )  # fmt: skip
    readings = clean_readings(consumption)
    table = result.forecasts
    origins = pd.DatetimeIndex(table["origin"].unique())
    train = readings[readings.index < origins[0]]
    fleet_model = fleet.model_for(meter_id, train, timezone, country) if fleet is not None else None
    holdout = result.training.holdout
    residuals = _residual_table(holdout, train, temperature, fleet_model, result.blend, keep_days)
    notes = []
    if residuals is None:
        notes.append("no hold-out residual days: paths are the point forecast only")
    fixed = float(np.quantile(daily_peaks(train, timezone)["value"], fixed_quantile))
    outcomes: dict[str, list[PeakOutcome]] = {"month_to_date": [], "fixed": []}
    for origin in origins:
        rows = table[table["origin"] == origin]
        index = pd.DatetimeIndex(rows["timestamp"])
        point = rows["forecast"].to_numpy(dtype="float64")
        if residuals is not None and copula:
            grid = frame_levels(rows.columns)
            q = np.vstack([rows[quantile_key(g)].to_numpy(dtype="float64") for g in grid])
            draws = day_draws(index, len(residuals), size, seed)
            paths = schaake_paths(residual_draws(index, residuals, draws), grid, q)
        elif residuals is not None:
            widen = np.array(
                [block_widening(result.training.model, int(k)) for k in block_numbers(index, origin)]
            )
            paths = residual_paths(
                point, index, residuals, day_draws(index, len(residuals), size, seed), widen
            )
        else:
            paths = point[None, :]
        scenarios = Scenarios(index=index, point=point, paths=paths, unit="", model=result.model_kind)
        day = first_full_day(scenarios, timezone)
        if day is None:
            continue
        after = readings[readings.index >= origin]
        mtd, _, _ = month_to_date_peak(readings, origin, timezone)
        for rule, threshold in (("month_to_date", mtd), ("fixed", fixed)):
            if threshold is None:
                continue
            outcome = day_outcome(scenarios, after, timezone, threshold, day)
            if outcome is not None:
                outcomes[rule].append(outcome)
    return PeakBacktest(
        meter_id=meter_id,
        model_kind=result.model_kind,
        outcomes=outcomes,
        scores={rule: peak_scores(found, decision) for rule, found in outcomes.items()},
        naive=naive_scores(readings, timezone, outcomes["fixed"]),
        fixed_threshold=fixed,
        residual_days=0 if residuals is None else len(residuals),
        notes=notes,
    )
