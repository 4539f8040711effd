"""Backtest of a group's total: members' rolling-origin backtests summed, quantiles from joint residuals.

Every member is backtested by the forecaster it would get (``fleet_backtest``: one fit on readings
before the first origin) on the *same* daily origins: the members' readings are cut at the day
the earliest of them ends. Per origin and hour the group's forecast is the sum of the members'
forecasts, its actual the sum of their readings (an hour where any member has none is not
scored), and each seasonal-naive baseline the sum of the members' baselines, so the ratio to the
best summed baseline is measured on exactly the same hours.

The group's quantiles come from joint scenarios, as a served group forecast's: each member's
forecast plus the residual day of the same calendar day, drawn from the out-of-sample hold-out
residuals of the forecaster it answers with (its last 28 days before the first origin), summed
per scenario. Those days all lie before the first origin, so no scored day informs its own
band. Members that cannot be backtested (too little history) contribute the same-hour-mean
fallback a served forecast would use, counted in ``fallbacks``. The summary also reports the
coverage of the members' P10 and P90 simply added up, the figure the joint scenarios replace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import DataQualityError, NoDataFoundError, NotFoundError, TrainingError
from energy_forecast.features.grid import HOUR, hourly_index
from energy_forecast.ml.backtest import backtest_origins, origin_table, score_forecasts
from energy_forecast.ml.baselines import BASELINES
from energy_forecast.ml.blend import BlendWeights, default_prior, ensemble_holdout
from energy_forecast.ml.copula import schaake_paths
from energy_forecast.ml.fleet_backtest import fleet_backtest
from energy_forecast.ml.forecasting import block_widening
from energy_forecast.ml.metrics import quantile_coverage_percent
from energy_forecast.ml.model import ForecastModel
from energy_forecast.ml.quantiles import BAND, DEFAULT_LEVELS, frame_levels, quantile_key
from energy_forecast.ml.residual_days import (
    DEFAULT_SIZE,
    KEEP_DAYS,
    MIN_DAYS,
    ResidualDays,
    block_numbers,
    common_days,
    comonotone_paths,
    day_draws,
    residual_draws,
    residual_paths,
)
from energy_forecast.ml.scenarios import quantiles_of
from energy_forecast.services.evaluation import ISO_UTC, load_meter, public_metrics, short_meter_days
from energy_forecast.services.fleet_model import backtest_fleet, fleet_prior_of
from energy_forecast.services.forecasting import same_hour_mean
from energy_forecast.services.groups import get_group
from energy_forecast.services.meters import meter_calendar
from energy_forecast.services.scenarios import SAMPLING_LEVELS
from energy_forecast.storage.base import ModelStore, SeriesStore

DAY = pd.Timedelta(days=1)
GROUP_BACKTEST_NOTE = (
    "group total = sum of the members' day-ahead forecasts from the same daily origins; quantiles "
    "from joint scenarios (members' hold-out residual days before the first origin, the same "
    "calendar day for every member); baselines are the members' baselines summed"
)


@dataclass
class _Member:
    meter_id: str
    table: pd.DataFrame  # origin, timestamp, forecast, lower, upper, p.., baselines, actual
    kind: str
    residuals: ResidualDays | None = None  # the answering forecaster's hold-out residual hours
    model: ForecastModel | None = None

    def days(self, keep_days: int) -> tuple[pd.DatetimeIndex, np.ndarray] | None:
        """Its last ``keep_days`` residual days as ``(dates, (days, 24))``; None below ``MIN_DAYS``."""
        if self.residuals is None:
            return None
        dates, table = self.residuals.last(keep_days).matrix()
        return (dates, table) if len(dates) >= MIN_DAYS else None


def _member(
    store: SeriesStore,
    model_store: ModelStore | None,
    meter_id: str,
    meter_type: MeterType,
    end: pd.Timestamp,
    days: int,
    horizon_hours: int,
    levels: tuple[float, ...],
    keep_days: int = KEEP_DAYS,
) -> _Member:
    """One member's backtest on the readings before ``end`` (the group's common cut)."""
    meter, readings, temperature = load_meter(store, meter_id, meter_type)
    readings = readings[readings.index < end]
    timezone, country = meter_calendar(store, meter)
    temp = temperature if not temperature.empty else None
    fleet, prior = None, default_prior(meter_type)
    _, origins = backtest_origins(readings, meter_id, days)
    if model_store is not None:
        fleet = backtest_fleet(model_store, meter_type, origins[0])
        prior = fleet_prior_of(model_store, meter_type)
    try:
        result = fleet_backtest(
            readings, temp, meter_id=meter_id, meter_type=meter_type, fleet=fleet, timezone=timezone,
            country=country, horizon_hours=horizon_hours, days=days, prior=prior, levels=levels,
        )  # fmt: skip
    except (DataQualityError, TrainingError):
        return _Member(
            meter_id, _fallback_table(readings, origins, horizon_hours, timezone, levels), "fallback"
        )
    holdout = result.training.holdout
    record = None
    if result.model_kind in ("ensemble", "meter") and holdout is not None:
        train = readings[readings.index < origins[0]]
        frame = holdout
        if result.blend is not None:
            weights = BlendWeights.from_dict(dict(result.blend))
            own_fleet = fleet.model_for(meter_id, train, timezone, country) if fleet is not None else None
            frame = ensemble_holdout(holdout, train, temp, own_fleet if weights.fleet > 0 else None, weights)
        index = pd.DatetimeIndex(frame.index)
        record = ResidualDays.from_holdout(index, frame["actual"], frame["forecast"], keep_days)
    return _Member(meter_id, result.forecasts, result.model_kind, record, result.training.model)


def _fallback_table(
    readings: pd.Series,
    origins: list[pd.Timestamp],
    horizon_hours: int,
    timezone: str,
    levels: tuple[float, ...],
) -> pd.DataFrame:
    def at(origin: pd.Timestamp) -> pd.DataFrame:
        index = hourly_index(origin, origin + (horizon_hours - 1) * HOUR)
        before = readings[readings.index < origin]
        if before.empty:  # nothing known yet: no forecast on these hours
            return pd.DataFrame(np.nan, index=index, columns=["forecast", "lower", "upper"])
        return same_hour_mean(before, index, timezone, levels)

    return origin_table(readings, origins, horizon_hours, at)


@dataclass
class GroupMembers:
    """The members' backtests on common origins: what every way of drawing the total reads."""

    group_id: str
    meter_type: MeterType
    members: list[_Member]
    missing: list[str]
    days: int
    horizon_hours: int
    levels: tuple[float, ...]  # the levels asked for
    wanted: tuple[float, ...]  # those plus the 80 % band and the median


def backtest_members(
    store: SeriesStore,
    *,
    group_id: str,
    meter_type: MeterType,
    horizon_hours: int = 24,
    days: int = 28,
    model_store: ModelStore | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
    keep_days: int = KEEP_DAYS,
) -> GroupMembers:
    """Every member's day-ahead backtest on the same origins, with its hold-out residual days.

    Raises:
        NotFoundError: unknown group, another type, or no member with readings.
    """
    view = get_group(store, group_id)
    if view.group.meter_type != MeterType(meter_type):
        raise NotFoundError(
            f"group {group_id!r} is {view.group.meter_type.value}, not {MeterType(meter_type).value}"
        )
    loaded = {}
    for meter_id in view.members:
        readings = store.read_readings(meter_type, meter_id).dropna()
        if not readings.empty:
            loaded[meter_id] = readings
    if not loaded:
        raise NotFoundError(f"group {group_id!r}: none of its meters has readings")
    end = min(r.index[-1].floor("D") for r in loaded.values()) + DAY
    days = min(short_meter_days(r[r.index < end], days) for r in loaded.values())
    wanted = tuple(sorted(set(levels) | set(BAND) | {0.5}))
    sampling = tuple(sorted(set(SAMPLING_LEVELS) | set(wanted)))
    members = []
    for meter_id in loaded:
        try:
            members.append(
                _member(
                    store, model_store, meter_id, meter_type, end, days, horizon_hours, sampling, keep_days
                )
            )
        except NoDataFoundError:
            continue
    missing = sorted(set(view.members) - {m.meter_id for m in members})
    return GroupMembers(
        group_id, MeterType(meter_type), members, missing, days, horizon_hours, tuple(levels), wanted
    )


def score_group(
    group: GroupMembers, *, size: int = DEFAULT_SIZE, seed: int = 0, keep_days: int = KEEP_DAYS,
    copula: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """``{"records": [...], "summary": {...}}``: the summed backtest and its quantiles, scored.

    ``copula`` maps each member's residual-day draws onto its calibrated quantiles (the served
    method); without it the residual days are added to the point as they are.
    """
    table = _group_table(group.members, group.wanted, size, seed, keep_days, copula)
    scored = score_forecasts(table)
    summary = _summary(
        group.group_id, group.meter_type, group.members, table, scored, group.horizon_hours, group.days,
        list(group.levels), keep_days,
    )  # fmt: skip
    summary["members_missing"] = group.missing
    return {"records": _records(table, group.levels), "summary": summary}


def backtest_group(
    store: SeriesStore,
    *,
    group_id: str,
    meter_type: MeterType,
    horizon_hours: int = 24,
    days: int = 28,
    model_store: ModelStore | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
    size: int = DEFAULT_SIZE,
    seed: int = 0,
) -> dict[str, Any]:
    """``{"records": [...], "summary": {...}}`` of the group's rolling-origin backtest.

    Raises:
        NotFoundError: unknown group, another type, or no member with readings.
    """
    group = backtest_members(
        store, group_id=group_id, meter_type=meter_type, horizon_hours=horizon_hours, days=days,
        model_store=model_store, levels=levels,
    )  # fmt: skip
    return score_group(group, size=size, seed=seed)


def _group_table(
    members: list[_Member], levels: tuple[float, ...], size: int, seed: int, keep_days: int, copula: bool
) -> pd.DataFrame:
    """Per origin and hour: summed forecast, actual and baselines, and quantiles of the summed paths."""
    keyed = [m.table.set_index(["origin", "timestamp"]) for m in members]
    keys = keyed[0].index
    for frame in keyed[1:]:
        keys = keys.union(frame.index)
    keyed = [frame.reindex(keys) for frame in keyed]
    total = pd.DataFrame(index=keys)
    for column in ("forecast", "actual", *BASELINES):
        total[column] = np.sum([frame[column].to_numpy(dtype="float64") for frame in keyed], axis=0)
    summed = {q: np.sum([f[quantile_key(q)].to_numpy(dtype="float64") for f in keyed], axis=0) for q in BAND}
    own_days = {m.meter_id: m.days(keep_days) for m in members}
    joint = [m for m in members if own_days[m.meter_id] is not None]
    shared, tables = common_days([own_days[m.meter_id] for m in joint])  # type: ignore[misc]
    table_of = dict(zip([m.meter_id for m in joint], tables, strict=True))
    together = len(shared) >= MIN_DAYS
    quantiles = {quantile_key(q): np.full(len(keys), np.nan) for q in levels}
    origins = keys.get_level_values(0)
    for n, origin in enumerate(pd.unique(origins)):
        rows = np.flatnonzero(origins == origin)
        hours = pd.DatetimeIndex(keys.get_level_values(1)[rows])
        draws = day_draws(hours, len(shared), size, seed + n) if together else None
        paths = np.zeros((size, len(rows)))
        for k, (member, frame) in enumerate(zip(members, keyed, strict=True)):
            part = frame.iloc[rows]
            point = part["forecast"].to_numpy(dtype="float64")
            grid = frame_levels(part.columns)
            q = np.vstack([part[quantile_key(g)].to_numpy(dtype="float64") for g in grid])
            days_of = own_days[member.meter_id]
            if days_of is not None:
                own, table = (draws, table_of[member.meter_id]) if together else (None, days_of[1])
                if own is None:
                    own = day_draws(hours, len(days_of[0]), size, seed + n + 7919 * (k + 1))
                if copula:
                    paths += schaake_paths(residual_draws(hours, table, own), grid, q)
                else:
                    widen = _widen(member.model, hours, pd.Timestamp(origin))
                    paths += residual_paths(point, hours, table, own, widen)
            else:
                paths += comonotone_paths(hours, grid, q, size, seed + n + 104729 * (k + 1))
        for key, values in quantiles_of(paths, levels).items():
            quantiles[key][rows] = values
    for key, values in quantiles.items():
        total[key] = values
    total["lower"], total["upper"] = total[quantile_key(BAND[0])], total[quantile_key(BAND[1])]
    total["summed_p10"], total["summed_p90"] = summed[BAND[0]], summed[BAND[1]]
    return total.reset_index()


def _widen(model: ForecastModel | None, hours: pd.DatetimeIndex, origin: pd.Timestamp) -> np.ndarray:
    blocks = block_numbers(hours, origin)
    if model is None:
        return np.ones(len(hours))
    factors = {int(k): block_widening(model, int(k)) for k in np.unique(blocks)}
    return np.array([factors[int(k)] for k in blocks], dtype="float64")


def _summary(
    group_id: str,
    meter_type: MeterType,
    members: list[_Member],
    table: pd.DataFrame,
    scored: dict[str, dict[str, float | None]],
    horizon_hours: int,
    days: int,
    levels: list[float],
    keep_days: int = KEEP_DAYS,
) -> dict[str, Any]:
    valid = {n: scored[n]["cv_rmse_percent"] for n in BASELINES if scored[n]["cv_rmse_percent"] is not None}
    best = min(valid, key=lambda n: valid[n]) if valid else None
    ours = scored["model"]["cv_rmse_percent"]
    ratio = None if best is None or ours is None or not valid[best] else ours / valid[best]
    ok = np.isfinite(table["actual"].to_numpy()) & np.isfinite(table["summed_p10"].to_numpy())
    actual = table["actual"].to_numpy()[ok]
    low, high = table["summed_p10"].to_numpy()[ok], table["summed_p90"].to_numpy()[ok]
    model = public_metrics(scored["model"])
    origins = pd.DatetimeIndex(table["origin"])
    return {
        "group_id": group_id,
        "meter_type": MeterType(meter_type).value,
        "horizon_hours": horizon_hours,
        "days": days,
        "first_origin": origins.min().strftime(ISO_UTC) if len(origins) else None,
        "last_origin": origins.max().strftime(ISO_UTC) if len(origins) else None,
        "members": len(members),
        "fallbacks": sum(m.kind == "fallback" for m in members),
        "member_models": {k: sum(m.kind == k for m in members) for k in sorted({m.kind for m in members})},
        "members_with_residual_days": sum(m.days(keep_days) is not None for m in members),
        "residual_days_kept": keep_days,
        "model": model,
        "baselines": {name: public_metrics(scored[name]) for name in BASELINES},
        "best_baseline": best,
        "cv_rmse_ratio_to_best_baseline": ratio,
        "band_coverage_percent": model.get("interval_coverage_percent"),
        "summed_member_quantiles": {
            "coverage_p10_percent": quantile_coverage_percent(actual, low),
            "coverage_p90_percent": quantile_coverage_percent(actual, high),
            "band_coverage_percent": float(np.mean((actual >= low) & (actual <= high)) * 100)
            if ok.any()
            else None,
        },
        "levels": levels,
        "model_kind": "group",
        "note": GROUP_BACKTEST_NOTE,
    }


def _records(table: pd.DataFrame, levels: Sequence[float]) -> list[dict[str, Any]]:
    keys = [quantile_key(q) for q in levels]
    origins = pd.DatetimeIndex(table["origin"]).strftime(ISO_UTC)
    stamps = pd.DatetimeIndex(table["timestamp"]).strftime(ISO_UTC)

    def column(name: str) -> list[float | None]:
        return [None if v != v else float(v) for v in table[name].tolist()]  # NaN -> None

    forecast, lower, upper = column("forecast"), column("lower"), column("upper")
    quantiles = {key: column(key) for key in keys}
    return [
        {
            "origin": origins[i],
            "timestamp": stamps[i],
            "forecast": forecast[i],
            "lower": lower[i],
            "upper": upper[i],
            "quantiles": {key: values[i] for key, values in quantiles.items()},
        }
        for i in range(len(table))
    ]
