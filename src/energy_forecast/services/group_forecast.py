"""Group forecasts: the members' forecasts summed, with quantiles of the sum from joint scenarios.

**Point.** The group's forecast of an hour is the sum of its members' forecasts (each exactly what
``forecast_meter`` answers for that meter, fallbacks included) plus the readings of members whose
data already reach that hour.

**Quantiles.** The quantiles of a sum are not the sums of quantiles: summing the members' P90s
assumes every meter is at its own 90th percentile in the same hour, which overstates the band
of a site whose meters' errors partly cancel, and understates nothing only by luck. The group's
quantiles are read across ``S`` joint scenarios of the total instead. Every member's scenario
``s`` reads the out-of-sample residual day of the *same calendar day* (``ml.residual_days``), so a
cold, dark or busy day that hit every building of a site in the residuals hits all of them in
the scenario together (cross-meter dependence) and over all its hours (cross-hour dependence).
Only the *ranks* of those draws are used: each member's values at an hour are its own
calibrated quantiles (what its ``/forecast/`` answers), assigned to the paths in the order of
their residual draws (an empirical copula, ``ml.copula``). A few weeks of residual days show
how meters and hours move together well; the calibrated quantiles, from the whole hold-out,
show how far each meter moves better. The paths are summed per scenario and the quantiles taken
across the summed paths. Why not a
group-level model reconciled with the members' (MinT and friends): it needs a model per group,
trained and kept fresh, and its point would disagree with the sum the members show; resampling
needs nothing beyond what each member's training already keeps.

Members whose residual days do not overlap (trained at different times) fall back to drawing
their own days independently, and members without residual days (a fallback, a global cold
start, an older bundle) sample their own quantiles; the answer's notes say how many did.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.domain.series import to_utc
from energy_forecast.errors import NotFoundError
from energy_forecast.features.grid import HOUR, hourly_index
from energy_forecast.ml.quantiles import BAND, quantile_key
from energy_forecast.ml.residual_days import DEFAULT_SIZE, MIN_DAYS, common_days, day_draws, utc_dates
from energy_forecast.ml.scenarios import COMONOTONE, RESIDUAL_DAYS, Scenarios, quantiles_of
from energy_forecast.services.forecast_cache import ModelCache
from energy_forecast.services.forecast_points import ForecastPoint
from energy_forecast.services.forecasting import FutureTemperature, check_window
from energy_forecast.services.groups import get_group
from energy_forecast.services.scenarios import MeterInputs, inputs_paths, meter_inputs
from energy_forecast.storage.base import ModelStore, SeriesStore

INDEPENDENT = "residual days, drawn independently per meter (their residual days do not overlap)"


@dataclass(frozen=True)
class GroupScenarios:
    """A group's joint scenarios of its forecast hours, its known hours, and how they were made."""

    group_id: str
    meter_type: MeterType
    scenarios: Scenarios
    history: pd.Series  # hourly totals before the first member's forecast, where every member has a reading
    last_reading: pd.Timestamp  # the earliest member's last reading: the group's forecast starts after it
    timezone: str
    member_models: dict[str, int]
    missing: list[str] = field(default_factory=list)  # members with neither readings nor a model
    notes: list[str] = field(default_factory=list)


def _known(inputs: MeterInputs) -> pd.Series:
    rows = [(pd.Timestamp(p.label), p.value) for p in inputs.result.points if p.kind == "historical"]
    if not rows:
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz="UTC"))
    stamps, values = zip(*rows, strict=True)
    return pd.Series(values, index=pd.DatetimeIndex(stamps, tz="UTC"), dtype="float64")


def _member_block(
    inputs: MeterInputs, hours: pd.DatetimeIndex, paths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(point, paths) of one member over the group's forecast hours: readings where it has them."""
    point = np.full(len(hours), np.nan)
    known = _known(inputs).reindex(hours).to_numpy(dtype="float64")
    at = hours.get_indexer(inputs.index)
    point[at] = inputs.point
    before = np.isnan(point)
    filler = (
        np.nanmean(known) if np.isfinite(known).any() else float(np.mean(inputs.point)) if len(at) else 0.0
    )
    point[before] = np.where(np.isfinite(known[before]), known[before], filler)  # a gap: its mean level
    block = np.repeat(point[None, :], paths.shape[0] if paths.ndim == 2 else 1, axis=0)
    if len(at):
        block[:, at] = paths
    return point, block


def group_scenarios(
    store: SeriesStore,
    model_store: ModelStore,
    *,
    group_id: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    size: int = DEFAULT_SIZE,
    seed: int = 0,
    cache: ModelCache | None = None,
    weather: FutureTemperature | None = None,
) -> GroupScenarios:
    """Joint scenarios of the group's total over its forecast hours inside ``[start, end]`` (UTC).

    Raises:
        NotFoundError: unknown group, or none of its members has readings or a model.
        InputDataError: a bad window (as ``forecast_meter``).
    """
    view = get_group(store, group_id)
    start, end = to_utc(start), to_utc(end)
    check_window(start, end)
    cache = cache or ModelCache()
    members: list[MeterInputs] = []
    missing = []
    for meter_id in view.members:
        args = {"meter_id": meter_id, "meter_type": view.group.meter_type, "start": start, "end": end}
        try:
            members.append(meter_inputs(store, model_store, **args, cache=cache, weather=weather))
        except NotFoundError:
            missing.append(meter_id)
    if not members:
        raise NotFoundError(f"group {group_id!r}: none of its meters has readings or a model; import them")
    last = min(m.result.last_reading for m in members)
    first = max(last + HOUR, start.ceil("h"))
    hours = hourly_index(first, end.floor("h")) if end.floor("h") >= first else pd.DatetimeIndex([], tz="UTC")
    dates = utc_dates(hours)
    joint = [m for m in members if m.days is not None]
    shared, tables = common_days([m.days for m in joint if m.days is not None])
    dependence = RESIDUAL_DAYS if joint else COMONOTONE
    notes = []
    if len(joint) > 1 and len(shared) < MIN_DAYS:
        dependence = INDEPENDENT
        notes.append(
            f"{len(joint)} members' residual days share {len(shared)} calendar days: drawn independently"
        )
    draws = day_draws(hours, len(shared), size, seed) if len(shared) >= MIN_DAYS or len(joint) == 1 else None
    table_of = dict(zip([id(m) for m in joint], tables, strict=True))
    point = np.zeros(len(hours))
    paths = np.zeros((size, len(hours)))
    for k, member in enumerate(members):
        own_draws, table = draws, table_of.get(id(member))
        if member.days is not None and (draws is None or table is None):
            own_draws, table = (
                day_draws(hours, len(member.days[0]), size, seed + 7919 * (k + 1)),
                member.days[1],
            )
        member_paths = inputs_paths(member, own_draws, table, size, seed + 104729 * (k + 1), dates=dates)
        values, block = _member_block(member, hours, member_paths)
        point += values
        paths += block
    comonotone = len(members) - len(joint)
    if comonotone:
        notes.append(
            f"{comonotone} of {len(members)} members have no stored residual days (a fallback, a new meter "
            "or a model trained before they were kept): their scenarios follow their own quantiles, "
            "comonotone within a day and independent of the other members"
        )
    fallbacks = sum(m.fallback for m in members)
    if fallbacks:
        notes.append(
            f"{fallbacks} of {len(members)} members have no usable model and contribute their labelled "
            "fallback (mean of the same local hour over the last 14 days)"
        )
    if missing:
        notes.append(f"left out, no readings and no model: {', '.join(missing)}")
    history = _history(members, start, last + HOUR)
    zones = {m.result.timezone for m in members}
    scenarios = Scenarios(
        hours, point, paths, _unit(store, view.members), "group", len(members), fallbacks, dependence
    )
    models = dict(Counter(m.result.model for m in members))
    timezone = zones.pop() if len(zones) == 1 else "UTC"
    return GroupScenarios(
        group_id, view.group.meter_type, scenarios, history, last, timezone, models, missing, notes
    )


def _history(members: list[MeterInputs], start: pd.Timestamp, stop: pd.Timestamp) -> pd.Series:
    """Hourly totals in ``[start, stop)`` where every member has a reading (a gap drops the hour)."""
    frame = pd.concat([_known(m) for m in members], axis=1)
    if frame.empty:
        return pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz="UTC"))
    frame = frame[(frame.index >= start) & (frame.index < stop)].dropna()
    return frame.sum(axis=1).sort_index()


def _unit(store: SeriesStore, meter_ids: tuple[str, ...]) -> str:
    units = {m.unit for m in store.list_meters() if m.meter_id in set(meter_ids)}
    return units.pop() if len(units) == 1 else ""


def group_points(
    group: GroupScenarios, levels: tuple[float, ...], frequency: str = "hourly"
) -> list[ForecastPoint]:
    """The answer's points: history, then forecast hours (or local days) with quantiles of the total."""
    wanted = tuple(sorted(set(levels) | set(BAND)))
    if frequency == "daily":
        return _daily(group, wanted, levels)
    points = [ForecastPoint(_label(t), float(v), "historical") for t, v in group.history.items()]
    table = quantiles_of(group.scenarios.paths, wanted) if group.scenarios.size else {}
    for h, stamp in enumerate(group.scenarios.index):
        q = {key: float(values[h]) for key, values in table.items()}
        mine = {quantile_key(level): q[quantile_key(level)] for level in levels}
        lower, upper = q[quantile_key(BAND[0])], q[quantile_key(BAND[1])]
        value = float(group.scenarios.point[h])
        points.append(ForecastPoint(_label(stamp), value, "forecast", None, lower, upper, None, None, mine))
    return points


def _daily(
    group: GroupScenarios, wanted: tuple[float, ...], levels: tuple[float, ...]
) -> list[ForecastPoint]:
    """Local-day totals; a day's quantiles are quantiles of the scenarios' daily totals (not sums)."""
    zone = group.timezone
    history = group.history
    known_days = history.groupby(history.index.tz_convert(zone).date)
    scenario_days = pd.Index(group.scenarios.index.tz_convert(zone).date)
    points = []
    for day, rows in known_days:
        if day not in set(scenario_days):
            points.append(ForecastPoint(day.isoformat(), float(rows.sum()), "historical", hours=len(rows)))
    for day in sorted(set(scenario_days)):
        inside = np.asarray(scenario_days == day)
        observed = float(history[history.index.tz_convert(zone).date == day].sum())
        hours = int(inside.sum()) + int((history.index.tz_convert(zone).date == day).sum())
        totals = observed + group.scenarios.paths[:, inside].sum(axis=1)
        table = quantiles_of(totals[:, None], wanted)
        q = {key: float(values[0]) for key, values in table.items()}
        mine = {quantile_key(level): q[quantile_key(level)] for level in levels}
        value = observed + float(group.scenarios.point[inside].sum())
        lower, upper = q[quantile_key(BAND[0])], q[quantile_key(BAND[1])]
        points.append(
            ForecastPoint(day.isoformat(), value, "forecast", None, lower, upper, None, hours, mine)
        )
    return points


def _label(stamp: pd.Timestamp) -> str:
    return pd.Timestamp(stamp).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
