"""Tariff JSON: parsing, the messages that say what to fix, and the canonical form."""

from __future__ import annotations

import pytest

from energy_forecast.domain.tariffs import TariffError, parse_tariff, tariff_to_dict

TOU = {
    "name": "Commercial TOU",
    "currency": "GBP",
    "energy": [
        {"price": 0.12, "days": ["holiday"], "label": "holiday"},
        {"price": 0.32, "hours": "16-19", "days": ["weekday"], "label": "peak"},
        {"price": 0.12, "hours": "23-7"},
        {"price": 0.21},
    ],
    "demand_charge_per_kw": 9.5,
    "fixed_per_period": 40,
}


def test_time_of_use_rules_match_first_by_local_hour_and_day_type() -> None:
    tariff = parse_tariff(TOU)
    holiday, peak, night, day = tariff.energy
    assert peak.hours == frozenset({16, 17, 18}) and peak.days == frozenset(range(5))
    assert night.hours == frozenset({23, 0, 1, 2, 3, 4, 5, 6})
    assert peak.matches(17, 2, False) and not peak.matches(17, 5, False)
    assert holiday.matches(17, 2, True) and not holiday.matches(17, 2, False)
    assert day.matches(3, 6, False)
    assert tariff.demand_rate_per_kw == 9.5 and tariff.has_demand_charge


def test_canonical_form_round_trips() -> None:
    tariff = parse_tariff(TOU)
    again = tariff_to_dict(tariff)
    assert again["energy"][2]["hours"] == "0-7,23-24"
    assert parse_tariff(again) == tariff
    kva = parse_tariff({"demand_charge_per_kva": 10.0, "power_factor": 0.8})
    assert kva.demand_rate_per_kw == pytest.approx(12.5)
    assert parse_tariff(tariff_to_dict(kva)) == kva


@pytest.mark.parametrize(
    ("tariff", "message"),
    [
        ({"energy": [{"price": 0.3, "hours": "7-23"}]}, "price no hour at Monday 00:00"),
        ({"energy": [{"price": 0.3, "hours": "7to9"}]}, r"energy\[0\].hours '7to9' is not a range"),
        ({"energy": [{"price": 0.3, "days": ["funday"]}]}, "unknown day 'funday'"),
        ({"energy": [{"hours": "7-9"}]}, r"energy\[0\] needs a price"),
        ({"energy": [{"price": "cheap"}]}, "price must be a number"),
        ({"energy": [{"price": 1}], "demand_charge": 3}, r"unknown tariff field\(s\) \['demand_charge'\]"),
        ({"demand_charge_per_kva": 10}, "needs a power_factor"),
        ({"demand_charge_per_kw": -1}, "at least 0"),
        ({"blocks": [{"up_to": 10, "price": 1}, {"up_to": 5, "price": 2}, {"price": 3}]}, "must be above"),
        ({"blocks": [{"up_to": 10, "price": 1}]}, "last block must be open-ended"),
        ({"blocks": [{"price": 1}], "energy": [{"price": 1}]}, "not both"),
        ({}, "charges nothing"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_tariffs_say_what_to_fix(tariff: object, message: str) -> None:
    with pytest.raises(TariffError, match=message):
        parse_tariff(tariff)
