"""What a sum of hourly values means in a meter's unit: energy from power, volume from flow.

Hourly values of an energy or volume unit (kWh, m³) add up to a total in that unit. Values of a
rate (kW, L/s) do not: each is the mean rate over its hour, so the total is rate * 1 h, in the
matching energy or volume unit (kW * h = kWh; L/s * 3600 s = L). A unit we do not know is summed
as given and said to be unknown rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

# Rate units: (multiplier from one hour at this rate, unit of the result).
_RATES: dict[str, tuple[float, str]] = {
    "w": (1.0, "Wh"),
    "kw": (1.0, "kWh"),
    "mw": (1.0, "MWh"),
    "gw": (1.0, "GWh"),
    "l/s": (3600.0, "L"),
    "l/min": (60.0, "L"),
    "l/h": (1.0, "L"),
    "m3/h": (1.0, "m³"),
    "m³/h": (1.0, "m³"),
    "m3/s": (3600.0, "m³"),
    "m³/s": (3600.0, "m³"),
    "gal/min": (60.0, "gal"),
    "gpm": (60.0, "gal"),
    "gal/h": (1.0, "gal"),
}
_AMOUNTS = {"wh", "kwh", "mwh", "gwh", "l", "m3", "m³", "gal", "ft3", "ft³", "ccf", "therm", "mj", "gj"}


@dataclass(frozen=True, slots=True)
class HourlyTotal:
    """How to turn a sum of hourly values into a total: ``sum * factor`` in ``unit``."""

    factor: float
    unit: str
    from_rate: bool
    known: bool
    quantity: str = "total"  # "energy" or "volume" when computed from a rate


def hourly_total(unit: str | None) -> HourlyTotal:
    """The total of hourly values in ``unit`` (``kW`` -> kWh, ``L/s`` -> L * 3600, ``kWh`` as is)."""
    text = (unit or "").strip()
    key = text.lower().replace(" ", "")
    if key in _RATES:
        factor, total_unit = _RATES[key]
        quantity = "energy" if total_unit.endswith("Wh") else "volume"
        return HourlyTotal(factor, total_unit, from_rate=True, known=True, quantity=quantity)
    return HourlyTotal(1.0, text, from_rate=False, known=key in _AMOUNTS)
