"""The temperature quality report on synthetic series: gaps, bounds and flat lines, exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_forecast.domain.series import make_series
from energy_forecast.services.temperature_quality import quality_report

START = pd.Timestamp("2024-01-01T00:00Z")
END = START + pd.Timedelta(days=3)


def temps(values: np.ndarray) -> pd.Series:
    return make_series(pd.date_range(START, periods=len(values), freq="h", tz="UTC"), values, "temperature")


def wavy(hours: int = 72) -> np.ndarray:
    return 10 + 5 * np.sin(np.arange(hours) / 24 * 2 * np.pi) + np.arange(hours) * 0.001


def test_a_complete_clean_series_has_full_coverage_and_nothing_flagged() -> None:
    report = quality_report("s", temps(wavy()), START, END, now=END)

    assert (report.expected_hours, report.observed_hours, report.coverage_percent) == (72, 72, 100.0)
    assert report.gaps == [] and report.flatlines == [] and report.out_of_bounds == []
    assert report.hours_since_last == 1


def test_gaps_are_reported_with_exact_bounds_and_the_longest_named() -> None:
    series = temps(wavy()).drop(pd.date_range("2024-01-02T00:00Z", periods=24, freq="h"))
    series = series.drop([pd.Timestamp("2024-01-01T05:00Z"), series.index[-1]])

    report = quality_report("s", series, START, END, now=END)

    assert [(g.start.isoformat(), g.hours) for g in report.gaps] == [
        ("2024-01-01T05:00:00+00:00", 1),
        ("2024-01-02T00:00:00+00:00", 24),
        ("2024-01-03T23:00:00+00:00", 1),
    ]
    assert report.longest_gap is not None and report.longest_gap.end == pd.Timestamp("2024-01-03T00:00Z")
    assert report.gap_hours == 26


def test_out_of_bounds_values_and_flat_lines_are_listed() -> None:
    values = wavy()
    values[10] = 85.0  # a fahrenheit or sensor error
    values[30:38] = 4.2  # eight hours stuck
    values[50:53] = 7.0  # three equal hours: normal

    report = quality_report("s", temps(values), START, END, now=END)

    assert report.out_of_bounds == [(pd.Timestamp("2024-01-01T10:00Z"), 85.0)]
    assert [(f.start, f.hours, f.value) for f in report.flatlines] == [
        (pd.Timestamp("2024-01-02T06:00Z"), 8, 4.2)
    ]
