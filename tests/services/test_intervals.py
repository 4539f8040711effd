"""Readings at a native interval onto hours: detection, grid, sums, means, sufficiency, registers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType, ReadingKind
from energy_forecast.errors import InputDataError
from energy_forecast.services.intervals import detect_interval, to_hourly


def ns(*stamps: str) -> np.ndarray:
    return pd.DatetimeIndex(list(stamps), tz="UTC").as_unit("ns").asi8


def run(meter: Meter, stamps: np.ndarray, values: list[float], mark: str = "start"):  # type: ignore[no-untyped-def]
    rows = np.arange(len(values)) + 2
    return to_hourly(meter, stamps, np.asarray(values, dtype=float), rows, stamps_mark=mark, source="f.csv")


def hours(result) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {
        pd.Timestamp(int(t), tz="UTC").strftime("%H:%M"): float(v)
        for t, v in zip(result.stamps, result.values, strict=True)
    }


def test_the_interval_is_the_most_common_spacing_and_gaps_do_not_change_it() -> None:
    quarter = ns("2024-01-01T00:00Z", "2024-01-01T00:15Z", "2024-01-01T00:30Z", "2024-01-01T02:00Z")
    hourly_with_gaps = ns("2024-01-01T00:00Z", "2024-01-01T01:00Z", "2024-01-01T05:00Z", "2024-01-02T00:00Z")

    assert detect_interval(quarter) == 15
    assert detect_interval(hourly_with_gaps) == 60
    assert detect_interval(ns("2024-01-01T00:00Z")) is None


def test_amounts_sum_and_a_partly_complete_hour_is_scaled_by_its_coverage() -> None:
    meter = Meter("m", MeterType.ELECTRICITY, unit="kWh")
    first = [f"2024-01-01T00:{m:02d}Z" for m in (0, 15, 30, 45)]
    stamps = ns(*first, "2024-01-01T01:00Z", "2024-01-01T01:15Z", "2024-01-01T01:30Z", "2024-01-01T02:45Z")

    result = run(meter, stamps, [1, 2, 3, 4, 5, 6, 7, 8])

    # 00: 1+2+3+4; 01: three of four present, (5+6+7) * 4/3 = 24; 02: one of four, a gap.
    assert hours(result) == {"00:00": 10.0, "01:00": 24.0}
    assert (result.scaled_hours, result.incomplete_hours, result.method) == (1, 1, "sum")


def test_rates_average_and_hourly_readings_pass_through_whatever_the_unit() -> None:
    rate = run(Meter("m", MeterType.WATER, unit="L/s"), ns("2024-01-01T00:00Z", "2024-01-01T00:30Z"), [2, 5])
    hourly = run(Meter("m", MeterType.WATER), ns("2024-01-01T00:00Z", "2024-01-01T01:00Z"), [2, 5])

    assert hours(rate) == {"00:00": 3.5} and rate.method == "mean"
    assert hours(hourly) == {"00:00": 2.0, "01:00": 5.0} and hourly.method == "as is"


def test_a_stamp_off_the_grid_is_refused_by_row() -> None:
    stamps = ns("2024-01-01T00:00Z", "2024-01-01T00:15Z", "2024-01-01T00:30Z", "2024-01-01T00:50Z")

    with pytest.raises(
        InputDataError, match=r"f.csv, row 5: timestamp 2024-01-01T00:50:00\+00:00 is not on the 15-minute"
    ):
        run(Meter("m", MeterType.ELECTRICITY, unit="kWh"), stamps, [1, 1, 1, 1])


def test_an_interval_that_does_not_divide_an_hour_is_refused() -> None:
    stamps = ns("2024-01-01T00:00Z", "2024-01-01T00:45Z", "2024-01-01T01:30Z")

    with pytest.raises(InputDataError, match="every 45 minutes, which does not divide an hour"):
        run(Meter("m", MeterType.ELECTRICITY, unit="kWh"), stamps, [1, 1, 1])


def test_register_reads_difference_into_hours_and_a_missing_read_inside_an_hour_loses_nothing() -> None:
    meter = Meter("r", MeterType.WATER, unit="m3", reading_kind=ReadingKind.REGISTER, interval_minutes=15)
    # 00:30 is missing, but 00:15 -> 00:45 lies inside hour 00: that hour is still exact.
    stamps = ns("2024-01-01T00:00Z", "2024-01-01T00:15Z", "2024-01-01T00:45Z", "2024-01-01T01:00Z")

    result = run(meter, stamps, [100, 101, 104, 106])

    assert hours(result) == {"00:00": 6.0}
    assert result.scaled_hours == 0 and result.drops == []


def test_a_register_read_missing_at_the_hour_leaves_the_spanned_hours_gaps() -> None:
    meter = Meter("r", MeterType.WATER, unit="m3", reading_kind=ReadingKind.REGISTER)
    stamps = ns("2024-01-01T00:00Z", "2024-01-01T01:00Z", "2024-01-01T03:00Z", "2024-01-01T04:00Z")

    result = run(meter, stamps, [10, 12, 20, 21])

    assert hours(result) == {"00:00": 2.0, "03:00": 1.0}
    assert result.unspanned_hours == 2


def test_a_register_with_a_rate_unit_is_refused() -> None:
    meter = Meter("r", MeterType.WATER, unit="L/s", reading_kind=ReadingKind.REGISTER)

    with pytest.raises(InputDataError, match="is a register, which accumulates an amount"):
        run(meter, ns("2024-01-01T00:00Z", "2024-01-01T01:00Z"), [1, 2])
