"""Units decide whether an hour sums or averages its intervals."""

from __future__ import annotations

import pytest

from energy_forecast.domain.meters import MeterType, ReadingKind, meter_from_row
from energy_forecast.domain.units import UnitKind, parse_unit


@pytest.mark.parametrize(
    ("text", "symbol", "kind"),
    [
        ("kWh", "kWh", UnitKind.AMOUNT),
        ("MWh", "MWh", UnitKind.AMOUNT),
        ("m³", "m³", UnitKind.AMOUNT),
        ("gal", "gal", UnitKind.AMOUNT),
        ("liters", "L", UnitKind.AMOUNT),
        ("kW", "kW", UnitKind.RATE),
        ("kw", "kW", UnitKind.RATE),
        ("L/s", "L/s", UnitKind.RATE),
        ("m3/h", "m3/h", UnitKind.RATE),
        ("kW (hourly mean of 10-min values)", "kW", UnitKind.RATE),
        ("m3 per hour", "m3/h", UnitKind.RATE),  # an amount per unit of time is a rate
        ("kWh per hour", "kWh/h", UnitKind.RATE),
    ],
)
def test_known_units_and_their_kind(text: str, symbol: str, kind: UnitKind) -> None:
    unit = parse_unit(text)

    assert unit is not None and (unit.symbol, unit.kind) == (symbol, kind)


def test_an_empty_unit_is_none_and_an_unknown_one_lists_the_known() -> None:
    assert parse_unit("") is None and parse_unit("  ") is None
    with pytest.raises(ValueError, match=r"unknown unit 'kWhr'; use one of energy \(Wh, kWh.*flow \(L/s"):
        parse_unit("kWhr")


def test_a_meters_csv_row_becomes_a_meter_with_kind_and_interval() -> None:
    meter = meter_from_row(
        {
            "meter_id": "w1",
            "meter_type": "Water",
            "unit": "m3",
            "reading_kind": "REGISTER",
            "interval_minutes": "15.0",
        }
    )

    assert meter.meter_type is MeterType.WATER
    assert meter.reading_kind is ReadingKind.REGISTER and meter.interval_minutes == 15


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("reading_kind", "index", "reading_kind 'index' is not one of interval, register"),
        ("interval_minutes", "45", "interval_minutes 45 does not divide an hour"),
        ("interval_minutes", "7.5", "is not a whole number"),
        ("unit", "parsecs", "unknown unit 'parsecs'"),
        ("timezone", "Europe/Rom", "unknown IANA time zone 'Europe/Rom'"),
    ],
)
def test_a_bad_meters_csv_field_is_named(field: str, value: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        meter_from_row({"meter_id": "m1", "meter_type": "electricity", field: value})
