"""The cost of a billing period under a tariff: readings so far plus each scenario for the rest.

Every component is computed per scenario path over the whole period (observed hours, then the
path's forecast hours), so the demand charge sees the path's own peak and rising water blocks see
the path's own total: the quantiles of the bill are read across paths. Component quantiles do
not add up to the total's quantiles (the P90 of a sum is not the sum of P90s); each is reported
for itself.

Units: prices are per kWh (electricity) or per m³ (water). Readings in another energy or volume
unit are converted (Wh, MWh; L, gallons ...); a power or flow unit is an hourly mean, so the hour's
energy or volume is that mean times one hour. An hour's kWh is also its average kW, which is the
demand the demand charge reads (the billing meter's own demand interval may be shorter, and its
peak higher, than the hourly average here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from energy_forecast.domain.tariffs import Tariff
from energy_forecast.domain.units import parse_unit
from energy_forecast.ml.peaks import forecast_peaks, observed_before
from energy_forecast.ml.scenarios import Scenarios, quantiles_of

COST_LEVELS: tuple[float, ...] = (0.1, 0.5, 0.9)
COMPONENTS = ("energy", "demand", "fixed", "total")
_TO_KWH = {"Wh": 1e-3, "kWh": 1.0, "MWh": 1e3, "GWh": 1e6, "kJ": 1 / 3600, "MJ": 1 / 3.6, "GJ": 1e3 / 3.6,
           "W": 1e-3, "kW": 1.0, "MW": 1e3, "GW": 1e6, "kWh/h": 1.0, "Wh/h": 1e-3, "MWh/h": 1e3}  # fmt: skip
_TO_M3 = {"L": 1e-3, "kL": 1.0, "m3": 1.0, "m³": 1.0, "gal": 3.785411784e-3, "kgal": 3.785411784,
          "ft3": 0.028316846592, "ccf": 2.8316846592, "hcf": 2.8316846592, "L/s": 3.6, "L/min": 0.06,
          "L/h": 1e-3, "m3/s": 3600.0, "m3/h": 1.0, "m³/s": 3600.0, "m³/h": 1.0, "gpm": 0.2271247,
          "gal/min": 0.2271247, "cfm": 1.699011, "m3/h/h": 1.0}  # fmt: skip


@dataclass(frozen=True)
class CostForecast:
    """A billing period's forecast cost: quantiles per component, what is known so far, and the
    hours most likely to set the demand charge (UTC hour, share of paths)."""

    period: str
    currency: str
    base_unit: str
    hours: int
    observed_hours: int
    forecast_hours: int
    missing_hours: int
    quantiles: dict[str, dict[str, float]]
    mean: dict[str, float]
    consumption: dict[str, float]
    peak_demand_kw: dict[str, float] | None
    so_far: dict[str, float | None]
    demand_hours: list[tuple[pd.Timestamp, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def base_scale(unit: str, meter_type: str) -> tuple[float, str, str | None]:
    """Factor from the meter's hourly value to kWh (electricity) or m³ (water), the base unit,
    and a note when the unit was not declared or cannot be converted (then read as the base)."""
    base, table = ("kWh", _TO_KWH) if meter_type == "electricity" else ("m3", _TO_M3)
    try:
        parsed = parse_unit(unit)
    except ValueError:
        parsed = None
    if parsed is None or parsed.symbol not in table:
        said = f"unit {unit!r}" if unit else "no unit declared"
        return 1.0, base, f"{said}: hourly values read as {base}"
    return table[parsed.symbol], base, None


def billing_hours(period: str, timezone: str) -> pd.DatetimeIndex:
    """The UTC hours of a local billing month ``YYYY-MM`` (from local midnight on the 1st)."""
    month = pd.Period(period, freq="M")
    start = pd.Timestamp(month.start_time.date(), tz=timezone)
    end = pd.Timestamp((month + 1).start_time.date(), tz=timezone)
    return pd.date_range(start.tz_convert("UTC"), end.tz_convert("UTC"), freq="h", inclusive="left")


def hourly_prices(
    tariff: Tariff, hours: pd.DatetimeIndex, timezone: str, holidays: frozenset[date] = frozenset()
) -> np.ndarray:
    """The energy price of each hour: the first matching rule's, in local time (0 without rules)."""
    if not tariff.energy:
        return np.zeros(len(hours))
    local = hours.tz_convert(timezone)
    hour, weekday = local.hour.to_numpy(), local.day_of_week.to_numpy()
    holiday = np.array([d in holidays for d in local.date]) if holidays else np.zeros(len(hours), bool)
    prices = np.full(len(hours), np.nan)
    for rule in tariff.energy:
        match = np.isnan(prices)
        if rule.hours is not None:
            match &= np.isin(hour, sorted(rule.hours))
        if rule.days is not None:
            match &= np.isin(weekday, sorted(d for d in rule.days if d < 7)) | (holiday & (7 in rule.days))
        prices[match] = rule.price
    return np.nan_to_num(prices)  # parse_tariff guarantees ordinary days are covered


def block_cost(tariff: Tariff, volume: np.ndarray) -> np.ndarray:
    """Rising block charges on each path's period volume."""
    cost, lower = np.zeros_like(volume, dtype="float64"), 0.0
    for block in tariff.blocks:
        upper = np.inf if block.up_to is None else block.up_to
        cost += block.price * np.clip(volume - lower, 0.0, upper - lower)
        lower = upper
    return cost


def window(scenarios: Scenarios, start: pd.Timestamp, end: pd.Timestamp) -> Scenarios:
    """The scenarios' hours in ``[start, end)``."""
    keep = (scenarios.index >= start) & (scenarios.index < end)
    return Scenarios(
        index=scenarios.index[keep],
        point=scenarios.point[keep],
        paths=scenarios.paths[:, keep],
        unit=scenarios.unit,
        model=scenarios.model,
        members=scenarios.members,
        fallbacks=scenarios.fallbacks,
    )


def forecast_cost(
    scenarios: Scenarios,
    readings: pd.Series,
    tariff: Tariff,
    *,
    period: str,
    timezone: str,
    meter_type: str,
    unit: str = "",
    holidays: frozenset[date] = frozenset(),
    levels: Sequence[float] = COST_LEVELS,
    top: int = 3,
    origin: pd.Timestamp | None = None,
) -> CostForecast:
    """The cost of billing month ``period`` per scenario path, and its quantiles.

    ``origin`` (the first forecast hour) defaults to the scenarios' first hour; scenarios without
    hours (a period already over) give every path the observed cost.

    Raises:
        ValueError: the forecast stops before the period ends, or a demand charge on a water meter.
    """
    if tariff.has_demand_charge and meter_type != "electricity":
        raise ValueError("a demand charge applies to electricity meters; remove it from a water tariff")
    hours = billing_hours(period, timezone)
    start, end = hours[0], hours[-1] + pd.Timedelta(hours=1)
    origin = origin if origin is not None else scenarios.index[0]
    if origin < end and len(scenarios.index) == 0:
        raise ValueError(f"no forecast hours for billing period {period}")
    if origin < end and scenarios.index[-1] < hours[-1]:
        raise ValueError(
            f"the forecast reaches {scenarios.index[-1].isoformat()} but billing period {period} ends "
            f"{end.isoformat()}; forecasts reach at most 31 days past the last reading"
        )
    scale, base, unit_note = base_scale(unit, meter_type)
    observed = observed_before(readings, min(origin, end))
    observed = observed[(observed.index >= start) & (observed.index < end)]
    future = window(scenarios, max(origin, start), end)
    prices = pd.Series(hourly_prices(tariff, hours, timezone, holidays), index=hours)
    seen = observed.to_numpy(dtype="float64") * scale
    ahead = future.paths * scale  # S x H, base units per hour
    seen_volume, volume = float(seen.sum()), seen.sum() + ahead.sum(axis=1)
    if tariff.blocks:
        energy, energy_so_far = (
            block_cost(tariff, volume),
            float(block_cost(tariff, np.array([seen_volume]))[0]),
        )
    else:
        energy_so_far = float(seen @ prices.reindex(observed.index).to_numpy())
        energy = energy_so_far + ahead @ prices.reindex(future.index).to_numpy()
    seen_peak = float(seen.max()) if len(seen) else None
    peak = ahead.max(axis=1) if len(future.index) else np.full(scenarios.size, -np.inf)
    peak = np.maximum(peak, seen_peak if seen_peak is not None else -np.inf)
    demand = tariff.demand_rate_per_kw * peak if tariff.has_demand_charge else np.zeros(scenarios.size)
    fixed = np.full(scenarios.size, tariff.fixed_per_period)
    parts = {"energy": energy, "demand": demand, "fixed": fixed, "total": energy + demand + fixed}
    notes = [unit_note] if unit_note else []
    missing = int(((hours < min(origin, end)).sum()) - len(observed))
    if missing:
        notes.append(
            f"{missing} hours of the period before the last reading have no reading and cost nothing here"
        )
    if tariff.has_demand_charge:
        notes.append(
            "demand is the highest hourly average kW (an hour's kWh); a shorter billing interval peaks higher"
        )
    drivers = []
    if tariff.has_demand_charge and len(future.index):
        drivers = forecast_peaks(future, observed, timezone, "month", top=top)[0].hours
    elif tariff.has_demand_charge and seen_peak is not None:
        drivers = [(pd.Timestamp(observed.idxmax()), 1.0)]
    return CostForecast(
        period=period,
        currency=tariff.currency,
        base_unit=base,
        hours=len(hours),
        observed_hours=len(observed),
        forecast_hours=len(future.index),
        missing_hours=missing,
        quantiles={name: _rounded(quantiles_of(values, levels)) for name, values in parts.items()},
        mean={name: float(np.mean(values)) for name, values in parts.items()},
        consumption=_rounded(quantiles_of(volume, levels)),
        peak_demand_kw=_rounded(quantiles_of(peak, levels)) if meter_type == "electricity" else None,
        so_far={
            "energy": energy_so_far,
            "demand": tariff.demand_rate_per_kw * seen_peak
            if tariff.has_demand_charge and seen_peak
            else 0.0,
            "consumption": seen_volume,
            "peak_demand_kw": seen_peak if meter_type == "electricity" else None,
        },
        demand_hours=drivers,
        notes=notes,
    )


def _rounded(quantiles: dict[str, np.ndarray]) -> dict[str, float]:
    return {key: float(value) for key, value in quantiles.items()}
