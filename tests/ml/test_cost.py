"""Cost of a billing period per scenario path: energy by time of use, demand, fixed, water blocks."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.tariffs import parse_tariff
from energy_forecast.ml.cost import base_scale, billing_hours, forecast_cost, hourly_prices
from energy_forecast.ml.scenarios import Scenarios


def scenarios(start: str, paths: np.ndarray) -> Scenarios:
    index = pd.date_range(start, periods=paths.shape[1], freq="h", tz="UTC")
    return Scenarios(index=index, point=np.median(paths, axis=0), paths=paths, unit="kWh", model="meter")


def test_billing_month_is_local_and_prices_follow_local_time() -> None:
    hours = billing_hours("2026-03", "Europe/London")  # the clocks go forward on 29 March
    assert len(hours) == 31 * 24 - 1
    assert hours[0] == pd.Timestamp("2026-03-01 00:00", tz="UTC")
    assert hours[-1] == pd.Timestamp("2026-03-31 22:00", tz="UTC")
    tariff = parse_tariff(
        {"energy": [{"price": 1.0, "days": ["holiday"]}, {"price": 3.0, "hours": "17-19", "days": "weekday"},
                    {"price": 2.0}]}
    )  # fmt: skip
    summer = pd.date_range("2026-07-01 15:00", periods=3, freq="h", tz="UTC")  # 16:00..18:00 BST, Wed
    assert list(hourly_prices(tariff, summer, "Europe/London")) == [2.0, 3.0, 3.0]
    assert list(hourly_prices(tariff, summer, "Europe/London", frozenset({date(2026, 7, 1)}))) == [1.0] * 3


def test_bill_combines_hours_so_far_with_each_path() -> None:
    tariff = parse_tariff(
        {"currency": "EUR", "energy": [{"price": 0.5, "hours": "12-13"}, {"price": 0.1}],
         "demand_charge_per_kw": 10.0, "fixed_per_period": 20.0}
    )  # fmt: skip
    # February 2026 in UTC: 672 hours; 600 observed at 1 kWh with a 6 kW peak, 72 forecast.
    observed = pd.Series(1.0, index=pd.date_range("2026-02-01", periods=600, freq="h", tz="UTC"))
    observed.iloc[5] = 6.0
    low, high = np.full(72, 2.0), np.full(72, 2.0)
    high[36] = 9.0  # 2026-02-27 12:00 in the high path: a new peak in the priced noon hour
    forecast = scenarios("2026-02-26 00:00", np.vstack([low, high]))
    cost = forecast_cost(
        forecast, observed, tariff, period="2026-02", timezone="UTC", meter_type="electricity", unit="kWh"
    )
    assert (cost.hours, cost.observed_hours, cost.forecast_hours, cost.missing_hours) == (672, 600, 72, 0)
    so_far = 25 * 0.5 + (600 - 25) * 0.1 + 5 * 0.1  # 25 noon hours at 1 kWh; the 6 kWh hour is at 05:00
    assert cost.so_far["energy"] == pytest.approx(so_far)
    assert cost.so_far["demand"] == 60.0 and cost.so_far["peak_demand_kw"] == 6.0
    low_energy = so_far + 3 * 2 * 0.5 + 69 * 2 * 0.1
    high_energy = low_energy + 7 * 0.5
    assert cost.quantiles["energy"]["p10"] == pytest.approx(low_energy + 0.1 * (high_energy - low_energy))
    assert cost.quantiles["demand"]["p10"] == pytest.approx(60 + 0.1 * 30)
    assert cost.mean["total"] == pytest.approx((low_energy + high_energy) / 2 + 75 + 20)
    assert cost.mean["fixed"] == 20.0
    assert cost.demand_hours[0][1] == 0.5  # the observed peak stands in one path of two
    assert {hour for hour, _ in cost.demand_hours} == {
        pd.Timestamp("2026-02-01 05:00", tz="UTC"),
        pd.Timestamp("2026-02-27 12:00", tz="UTC"),
    }


def test_water_blocks_apply_to_each_path_volume_in_litres_converted() -> None:
    tariff = parse_tariff({"blocks": [{"up_to": 10, "price": 1.0}, {"up_to": None, "price": 3.0}]})
    observed = pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz="UTC"))
    paths = np.vstack([np.full(28 * 24, 10.0), np.full(28 * 24, 20.0)])  # litres per hour
    forecast = scenarios("2026-02-01", paths)
    cost = forecast_cost(
        forecast, observed, tariff, period="2026-02", timezone="UTC", meter_type="water", unit="L"
    )
    assert cost.base_unit == "m3" and cost.consumption["p10"] == pytest.approx(6.72 + 0.1 * 6.72)
    low, high = 6.72 * 1.0, 10 * 1.0 + (13.44 - 10) * 3.0  # 6.72 m3 stays in the first block
    assert cost.quantiles["energy"]["p90"] == pytest.approx(low + 0.9 * (high - low))
    with pytest.raises(ValueError, match="demand charge applies to electricity"):
        forecast_cost(
            scenarios("2026-02-01", paths), observed, parse_tariff({"demand_charge_per_kw": 1}),
            period="2026-02", timezone="UTC", meter_type="water",
        )  # fmt: skip


def test_a_forecast_that_stops_before_the_period_ends_is_refused() -> None:
    forecast = scenarios("2026-02-01", np.ones((2, 48)))
    with pytest.raises(ValueError, match="billing period 2026-02 ends"):
        forecast_cost(
            forecast, pd.Series(dtype="float64"), parse_tariff({"fixed_per_period": 1}),
            period="2026-02", timezone="UTC", meter_type="electricity",
        )  # fmt: skip


def test_units_convert_to_kwh_and_cubic_metres() -> None:
    assert base_scale("MWh", "electricity")[:2] == (1000.0, "kWh")
    assert base_scale("kW (hourly mean)", "electricity")[0] == 1.0
    assert base_scale("L/s", "water")[0] == pytest.approx(3.6)
    assert base_scale("m3 per hour", "water")[0] == 1.0
    factor, _, note = base_scale("", "electricity")
    assert factor == 1.0 and note == "no unit declared: hourly values read as kWh"
