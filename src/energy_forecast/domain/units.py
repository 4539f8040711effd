"""Meter units: whether an hour's value is the sum or the mean of its intervals.

An energy or volume reading (kWh, m³) is an amount: the hour's amount is the sum of its
intervals'. A power or flow reading (kW, L/s) is a rate: the hour's rate is the time-weighted
mean of its intervals' (with fixed intervals, the plain mean). A unit is written as a known
symbol, optionally followed by a description (``kW (hourly mean of 10-min values)``); an amount
"per hour" (``m3 per hour``, ``kWh/h``) is a rate. Matching ignores case.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class UnitKind(StrEnum):
    AMOUNT = "amount"  # energy or volume: summed
    RATE = "rate"  # power or flow: averaged


_AMOUNTS = {
    "energy": ["Wh", "kWh", "MWh", "GWh", "kJ", "MJ", "GJ", "therm", "kvarh"],
    "volume": ["L", "kL", "m3", "m³", "gal", "kgal", "ft3", "ccf", "hcf"],
}
_RATES = {
    "power": ["W", "kW", "MW", "GW", "kVA", "kvar"],
    "flow": ["L/s", "L/min", "L/h", "m3/s", "m3/h", "m³/s", "m³/h", "gpm", "gal/min", "cfm"],
}
# Aliases written out in full, so a user's "liters" or "cubic meters" is understood.
_ALIASES = {
    "litre": "L", "liter": "L", "litres": "L", "liters": "L", "l": "L",
    "cubic meter": "m3", "cubic meters": "m3", "cubic metre": "m3", "cubic metres": "m3",
    "gallon": "gal", "gallons": "gal", "kwh": "kWh", "mwh": "MWh", "wh": "Wh",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Unit:
    """A recognised unit: its canonical symbol and whether hours sum or average it."""

    symbol: str
    kind: UnitKind
    quantity: str  # energy, volume, power or flow


def _table() -> dict[str, Unit]:
    table: dict[str, Unit] = {}
    for kind, groups in ((UnitKind.AMOUNT, _AMOUNTS), (UnitKind.RATE, _RATES)):
        for quantity, symbols in groups.items():
            for symbol in symbols:
                table[symbol.lower()] = Unit(symbol, kind, quantity)
    for alias, symbol in _ALIASES.items():
        table.setdefault(alias.lower(), table[symbol.lower()])
    return table


def _any_case(text: str) -> str:
    """``text`` as a pattern matching it in any letter case, without flags: the same pattern
    serves Python here and JSON Schema (ECMA) in the API's documents."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.lower() != c.upper() else re.escape(c) for c in text)


_UNITS = _table()
_SYMBOLS = sorted(_UNITS, key=len, reverse=True)  # longest first: "kWh" before "kW"
_TIMES = ["s", "sec", "second", "min", "minute", "h", "hr", "hour", "d", "day"]
_PER = (
    "(?:/|\\s+"
    + _any_case("per")
    + "\\s+)(?:"
    + "|".join(_any_case(t) for t in sorted(_TIMES, key=len, reverse=True))
    + ")"
)
# Empty, or a known symbol, optionally "per" a time, then the end or a description.
UNIT_PATTERN = (
    "^(?:\\s*$|\\s*(" + "|".join(_any_case(s) for s in _SYMBOLS) + ")(" + _PER + ")?(?:$|[\\s(\\[,;]))"
)
_PATTERN = re.compile(UNIT_PATTERN)

KNOWN_UNITS = ", ".join(
    f"{quantity} ({', '.join(symbols)})" for quantity, symbols in {**_AMOUNTS, **_RATES}.items()
)


def parse_unit(text: str) -> Unit | None:
    """The unit ``text`` starts with; None for an empty unit.

    Raises:
        ValueError: the text starts with no known unit; the message lists the known ones.
    """
    if not text or not text.strip():
        return None
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(f"unknown unit {text!r}; use one of {KNOWN_UNITS}")
    unit = _UNITS[match[1].lower()]
    if match[2] and unit.kind is UnitKind.AMOUNT:
        # An amount per unit of time is a rate ("m3 per hour" is a flow, "kWh/h" a power).
        per = re.sub(r"^(?:/|per\s+)", "", match[2].strip(), flags=re.IGNORECASE)[0].lower()
        quantity = "power" if unit.quantity == "energy" else "flow"
        return Unit(f"{unit.symbol}/{per}", UnitKind.RATE, quantity)
    return unit


def validate_unit(text: str) -> str:
    """``text`` unchanged when it is empty or starts with a known unit (see ``parse_unit``)."""
    parse_unit(text)
    return text
