"""Tariffs: what a billing period of a meter costs, as data that users write in JSON.

A tariff has up to four parts, any of which may be absent:

- ``energy``: prices per unit of consumption (kWh, or m³ for water) by time-of-use period and day
  type, ``[{price, hours?, days?}]``. The first rule whose hours and days match an hour prices
  it, in the meter's local time; the rules together must price every hour of the week (end with
  a rule without ``hours``/``days``). ``hours`` is ``"7-23"`` (from 07:00 up to 23:00), ranges
  joined by commas (``"7-11,17-21"``), a range across midnight (``"22-6"``) or a list of hours;
  ``days`` lists ``mon`` .. ``sun``, ``weekday``, ``weekend`` or ``holiday`` (public holidays of
  the meter's country; put a holiday rule first to price holidays apart).
- ``blocks``: water's rising block prices on the period's total volume, ``[{up_to, price}]``
  with increasing ``up_to`` and the last block open (``up_to: null``). Blocks replace ``energy``.
- ``demand_charge_per_kw``: a price per kW of the billing period's highest hourly demand (an
  hour's kWh is its average kW), or ``demand_charge_per_kva`` with a ``power_factor`` (kVA =
  kW / power factor).
- ``fixed_per_period``: a standing charge per billing period.

``currency`` is a label only (no conversion). Validation says which field is wrong and how to
fix it; ``tariff_to_dict`` writes the canonical form back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HOLIDAY = "holiday"
_DAY_GROUPS = {"weekday": (0, 1, 2, 3, 4), "weekdays": (0, 1, 2, 3, 4), "weekend": (5, 6), "weekends": (5, 6)}
_FIELDS = (
    "name", "currency", "energy", "blocks", "demand_charge_per_kw", "demand_charge_per_kva",
    "power_factor", "fixed_per_period",
)  # fmt: skip
_RANGE = re.compile(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*$")
MAX_RULES = 48


class TariffError(ValueError):
    """A tariff that cannot be used; the message names the field and says what to write."""


@dataclass(frozen=True)
class EnergyRule:
    price: float
    hours: frozenset[int] | None = None  # local hours 0..23; None: every hour
    days: frozenset[int] | None = None  # weekday numbers 0 (Mon)..6, 7 = public holiday; None: every day
    label: str = ""

    def matches(self, hour: int, weekday: int, holiday: bool) -> bool:
        hour_ok = self.hours is None or hour in self.hours
        day_ok = self.days is None or weekday in self.days or (holiday and 7 in self.days)
        return hour_ok and day_ok


@dataclass(frozen=True)
class Block:
    up_to: float | None  # cumulative volume where the block ends; None: open-ended
    price: float


@dataclass(frozen=True)
class Tariff:
    name: str = ""
    currency: str = ""
    energy: tuple[EnergyRule, ...] = ()
    blocks: tuple[Block, ...] = ()
    demand_charge_per_kw: float = 0.0
    demand_charge_per_kva: float = 0.0
    power_factor: float | None = None
    fixed_per_period: float = 0.0

    @property
    def has_demand_charge(self) -> bool:
        return bool(self.demand_charge_per_kw or self.demand_charge_per_kva)

    @property
    def demand_rate_per_kw(self) -> float:
        """The demand charge per kW of real power (a kVA charge divided by the power factor)."""
        if self.demand_charge_per_kva:
            return self.demand_charge_per_kva / float(self.power_factor or 1.0)
        return self.demand_charge_per_kw


def _number(value: Any, where: str, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TariffError(f"{where} must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise TariffError(f"{where} must be at least {minimum:g}, got {value!r}")
    return float(value)


def _hours(value: Any, where: str) -> frozenset[int]:
    if isinstance(value, str):
        hours: set[int] = set()
        for part in value.split(","):
            match = _RANGE.match(part)
            if match is None:
                raise TariffError(
                    f'{where} {part.strip()!r} is not a range of hours; write e.g. "7-23" '
                    '(07:00 up to 23:00), "22-6" across midnight, or "7-11,17-21"'
                )
            start, end = int(match[1]), int(match[2])
            if start > 23 or end > 24 or start == end:
                raise TariffError(f"{where} {part.strip()!r}: hours run 0..24 and a range cannot be empty")
            hours.update(range(start, end) if start < end else [*range(start, 24), *range(end)])
        return frozenset(hours)
    if (
        isinstance(value, Sequence)
        and value
        and all(isinstance(h, int) and not isinstance(h, bool) for h in value)
    ):
        if any(not 0 <= h <= 23 for h in value):
            raise TariffError(f"{where} lists hours outside 0..23: {list(value)!r}")
        return frozenset(value)
    raise TariffError(
        f'{where} must be a range like "7-23" or a non-empty list of hours 0..23, got {value!r}'
    )


def _days(value: Any, where: str) -> frozenset[int]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, Sequence) or not names:
        raise TariffError(f"{where} must be a non-empty list of day names, got {value!r}")
    days: set[int] = set()
    for name in names:
        key = str(name).strip().lower()
        if key in _DAY_GROUPS:
            days.update(_DAY_GROUPS[key])
        elif key in (HOLIDAY, "holidays"):
            days.add(7)
        elif key in DAY_NAMES or key in _FULL_NAMES:
            days.add(DAY_NAMES.index(key) if key in DAY_NAMES else _FULL_NAMES.index(key))
        else:
            raise TariffError(
                f"{where} has unknown day {name!r}; use mon, tue, wed, thu, fri, sat, sun, weekday, "
                "weekend or holiday"
            )
    return frozenset(days)


def _rule(value: Any, where: str) -> EnergyRule:
    if not isinstance(value, Mapping):
        raise TariffError(f'{where} must be an object like {{"price": 0.25, "hours": "7-23"}}, got {value!r}')
    unknown = set(value) - {"price", "hours", "days", "label", "name"}
    if unknown:
        raise TariffError(
            f"{where} has unknown field(s) {sorted(unknown)}; a rule has price, hours, days, label"
        )
    if "price" not in value:
        raise TariffError(f"{where} needs a price (per kWh, or per m3 for water)")
    hours = _hours(value["hours"], f"{where}.hours") if value.get("hours") is not None else None
    days = _days(value["days"], f"{where}.days") if value.get("days") is not None else None
    label = value.get("label", value.get("name", ""))
    return EnergyRule(_number(value["price"], f"{where}.price"), hours, days, str(label or "")[:60])


def _blocks(value: Any) -> tuple[Block, ...]:
    if not isinstance(value, Sequence) or isinstance(value, str) or not value:
        raise TariffError(
            'blocks must be a non-empty list like [{"up_to": 100, "price": 1.2}, {"price": 2.0}]'
        )
    blocks: list[Block] = []
    previous = 0.0
    for i, item in enumerate(value):
        where = f"blocks[{i}]"
        if not isinstance(item, Mapping) or "price" not in item or set(item) - {"up_to", "price"}:
            raise TariffError(f"{where} must be an object with price and up_to (null for the last block)")
        up_to = item.get("up_to")
        last = i == len(value) - 1
        if up_to is None and not last:
            raise TariffError(
                f"{where}.up_to is missing; only the last block may be open-ended (up_to: null)"
            )
        if up_to is not None:
            if last:
                raise TariffError(f"{where}: the last block must be open-ended; set its up_to to null")
            up_to = _number(up_to, f"{where}.up_to")
            if up_to <= previous:
                raise TariffError(f"{where}.up_to {up_to:g} must be above the previous block's {previous:g}")
            previous = up_to
        blocks.append(Block(up_to, _number(item["price"], f"{where}.price")))
    return tuple(blocks)


def _uncovered(rules: Sequence[EnergyRule]) -> str | None:
    """The first (day, hour) no rule prices, on an ordinary (non-holiday) day."""
    for weekday in range(7):
        for hour in range(24):
            if not any(rule.matches(hour, weekday, False) for rule in rules):
                return f"{_FULL_NAMES[weekday].title()} {hour:02d}:00"
    return None


def parse_tariff(data: Any) -> Tariff:
    """A validated ``Tariff`` from its JSON form.

    Raises:
        TariffError: a field is unknown, missing, of the wrong type or inconsistent.
    """
    if not isinstance(data, Mapping):
        raise TariffError("a tariff must be a JSON object with energy, blocks, demand_charge_per_kw, ...")
    unknown = set(data) - set(_FIELDS)
    if unknown:
        raise TariffError(f"unknown tariff field(s) {sorted(unknown)}; known fields: {', '.join(_FIELDS)}")
    energy_raw = data.get("energy") or []
    if not isinstance(energy_raw, Sequence) or isinstance(energy_raw, str):
        raise TariffError(
            'energy must be a list of rules like [{"price": 0.25, "hours": "7-23"}, {"price": 0.12}]'
        )
    if len(energy_raw) > MAX_RULES:
        raise TariffError(f"energy has {len(energy_raw)} rules; at most {MAX_RULES}")
    energy = tuple(_rule(rule, f"energy[{i}]") for i, rule in enumerate(energy_raw))
    blocks = _blocks(data["blocks"]) if data.get("blocks") is not None else ()
    if energy and blocks:
        raise TariffError("give either energy (time-of-use prices) or blocks (prices by volume), not both")
    if energy and (gap := _uncovered(energy)) is not None:
        raise TariffError(
            f"energy rules price no hour at {gap}; end the list with a rule without hours and days"
        )
    per_kw = _number(data.get("demand_charge_per_kw") or 0, "demand_charge_per_kw", minimum=0)
    per_kva = _number(data.get("demand_charge_per_kva") or 0, "demand_charge_per_kva", minimum=0)
    if per_kw and per_kva:
        raise TariffError("give demand_charge_per_kw or demand_charge_per_kva, not both")
    power_factor = data.get("power_factor")
    if power_factor is not None:
        power_factor = _number(power_factor, "power_factor")
        if not 0 < power_factor <= 1:
            raise TariffError(f"power_factor must be in (0, 1], got {power_factor:g}")
    if per_kva and power_factor is None:
        raise TariffError("demand_charge_per_kva needs a power_factor (e.g. 0.95) to turn kW into kVA")
    fixed = _number(data.get("fixed_per_period") or 0, "fixed_per_period", minimum=0)
    if not energy and not blocks and not (per_kw or per_kva) and not fixed:
        raise TariffError(
            "the tariff charges nothing; give energy, blocks, a demand charge or fixed_per_period"
        )
    name, currency = str(data.get("name") or ""), str(data.get("currency") or "")
    if len(name) > 100 or len(currency) > 8:
        raise TariffError('name is at most 100 characters and currency at most 8 (e.g. "GBP")')
    return Tariff(name, currency, energy, blocks, per_kw, per_kva, power_factor, fixed)


def _hours_text(hours: frozenset[int]) -> str:
    ordered, runs, start = sorted(hours), [], None
    for i, hour in enumerate(ordered):
        start = hour if start is None else start
        if i + 1 == len(ordered) or ordered[i + 1] != hour + 1:
            runs.append(f"{start}-{hour + 1}")
            start = None
    return ",".join(runs)


def _days_list(days: frozenset[int]) -> list[str]:
    return [DAY_NAMES[d] for d in sorted(days) if d < 7] + ([HOLIDAY] if 7 in days else [])


def tariff_to_dict(tariff: Tariff) -> dict[str, Any]:
    """The canonical JSON form (``parse_tariff(tariff_to_dict(t)) == t``)."""
    out: dict[str, Any] = {"name": tariff.name, "currency": tariff.currency}
    if tariff.energy:
        out["energy"] = [
            {"price": r.price}
            | ({"hours": _hours_text(r.hours)} if r.hours is not None else {})
            | ({"days": _days_list(r.days)} if r.days is not None else {})
            | ({"label": r.label} if r.label else {})
            for r in tariff.energy
        ]
    if tariff.blocks:
        out["blocks"] = [{"up_to": b.up_to, "price": b.price} for b in tariff.blocks]
    if tariff.demand_charge_per_kw:
        out["demand_charge_per_kw"] = tariff.demand_charge_per_kw
    if tariff.demand_charge_per_kva:
        out["demand_charge_per_kva"] = tariff.demand_charge_per_kva
    if tariff.power_factor is not None:
        out["power_factor"] = tariff.power_factor
    if tariff.fixed_per_period:
        out["fixed_per_period"] = tariff.fixed_per_period
    return out
