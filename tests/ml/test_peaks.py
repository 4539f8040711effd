"""Peak forecasts from scenarios: per-path maxima with observed hours, local days, thresholds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_forecast.ml.peak_scores import day_outcome, event_scores, first_full_day, peak_scores
from energy_forecast.ml.peaks import (
    day_exceedance,
    forecast_peaks,
    month_to_date_peak,
    period_labels,
)
from energy_forecast.ml.scenarios import Scenarios


def scenarios(start: str, paths: np.ndarray) -> Scenarios:
    index = pd.date_range(start, periods=paths.shape[1], freq="h", tz="UTC")
    return Scenarios(index=index, point=np.median(paths, axis=0), paths=paths, unit="kWh", model="meter")


def readings(start: str, values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="h", tz="UTC"))


def test_period_peak_is_the_per_path_maximum_not_the_largest_hourly_quantile() -> None:
    # Two paths whose highs fall in different hours: each path's peak is 10, yet the largest
    # hourly P90 would be 9.2 and the largest hourly median 5.5.
    paths = np.array([[10.0, 1.0, 1.0], [1.0, 10.0, 1.0]])
    peak = forecast_peaks(scenarios("2026-12-08 00:00", paths), readings("2026-12-07", []), "UTC", "day")[0]
    assert peak.quantiles == {"p10": 10.0, "p50": 10.0, "p90": 10.0}
    assert [share for _, share in peak.hours] == [0.5, 0.5]
    assert peak.likely_hour == pd.Timestamp("2026-12-08 00:00", tz="UTC")  # tie: the earlier hour


def test_observed_hours_of_the_period_count_and_can_stand_as_the_peak() -> None:
    observed = readings("2026-12-01 00:00", [4.0] * 24 * 7 + [12.0] + [4.0] * 23)  # 12 on the 8th
    paths = np.array([[5.0] * 24, [5.0] * 23 + [20.0]])  # forecast from the 9th
    [month] = forecast_peaks(scenarios("2026-12-09 00:00", paths), observed, "UTC", "month")
    assert month.label == "2026-12" and month.observed_peak == 12.0
    assert month.observed_hours == 8 * 24 and month.forecast_hours == 24
    assert month.stands_probability == 0.5
    assert {hour for hour, _ in month.hours} == {
        pd.Timestamp("2026-12-08 00:00", tz="UTC"),
        pd.Timestamp("2026-12-09 23:00", tz="UTC"),
    }
    assert month.quantiles["p10"] == pytest.approx(12.8) and month.quantiles["p90"] == pytest.approx(19.2)


def test_days_follow_the_local_calendar() -> None:
    # New York is UTC-5 in December: local midnight is 05:00 UTC.
    index = pd.date_range("2026-12-08 00:00", periods=30, freq="h", tz="UTC")
    labels = period_labels(index, "America/New_York", "day")
    assert labels[4] == "2026-12-07" and labels[5] == "2026-12-08" and labels[-1] == "2026-12-09"
    with pytest.raises(ValueError, match="period 'week'"):
        period_labels(index, "UTC", "week")  # type: ignore[arg-type]


def test_month_to_date_threshold_then_previous_month_at_the_start_of_a_month() -> None:
    observed = readings("2026-11-30 00:00", [3.0] * 24 + [7.0, 5.0])
    value, source, hour = month_to_date_peak(observed, pd.Timestamp("2026-12-01 02:00", tz="UTC"), "UTC")
    assert (value, source, hour) == (7.0, "month_to_date_peak", pd.Timestamp("2026-12-01 00:00", tz="UTC"))
    value, source, _ = month_to_date_peak(observed, pd.Timestamp("2026-12-01 00:00", tz="UTC"), "UTC")
    assert (value, source) == (3.0, "previous_month_peak")
    assert month_to_date_peak(observed.iloc[:0], pd.Timestamp("2026-12-01", tz="UTC"), "UTC")[1] == "none"


def test_day_exceedance_counts_paths_and_new_monthly_peaks() -> None:
    observed = readings("2026-12-30 00:00", [6.0] * 24)
    # Three days ahead: Dec 31 and Jan 1..2. Path k has its day maxima (4, 8, 9), (7, 5, 5), ...
    maxima = np.array([[4, 8, 9], [7, 5, 5], [9, 9, 3], [2, 2, 2]], dtype="float64")
    paths = np.repeat(maxima, 24, axis=1)
    found = day_exceedance(scenarios("2026-12-31 00:00", paths), observed, "UTC", threshold=6.0)
    assert [d.day for d in found] == ["2026-12-31", "2027-01-01", "2027-01-02"]
    assert [d.probability for d in found] == [0.5, 0.5, 0.25]
    # Dec 31 beats the observed 6 in 2 paths; Jan 1 is the first day of January: always a new peak;
    # Jan 2 beats Jan 1 in one path (9 > 8).
    assert [d.new_peak_probability for d in found] == [0.5, 1.0, 0.25]


def test_peak_scores_count_hits_false_alarms_and_misses() -> None:
    scores = event_scores(np.array([1, 1, 0, 0], bool), np.array([1, 0, 1, 0], bool))
    assert (scores["hits"], scores["false_alarms"], scores["misses"]) == (1, 1, 1)
    assert scores["precision"] == scores["recall"] == scores["f1"] == 0.5
    assert event_scores(np.zeros(3, bool), np.zeros(3, bool))["precision"] is None


def test_day_outcome_scores_the_first_full_local_day() -> None:
    base = np.tile(np.r_[np.full(17, 2.0), [9.0], np.full(6, 2.0)], 2)  # peak at 17:00 each day
    paths = np.vstack([base * f for f in (0.9, 1.0, 1.1, 1.2)])
    forecast = scenarios("2026-12-08 00:00", paths)
    assert first_full_day(forecast, "UTC") == "2026-12-08"
    assert first_full_day(forecast, "Europe/Berlin") == "2026-12-09"  # local midnight is 23:00 UTC
    actual = readings("2026-12-08 00:00", [*base[:16], 10.0, *base[17:24]])
    outcome = day_outcome(forecast, actual, "UTC", threshold=9.5, day="2026-12-08")
    assert outcome is not None and outcome.event and outcome.probability == 0.5
    assert outcome.likely_hour == pd.Timestamp("2026-12-08 17:00", tz="UTC")
    scores = peak_scores([outcome])
    assert scores["hour_mae"] == 1.0 and scores["hour_within_1h"] == 1.0 and scores["recall"] == 1.0
    assert scores["peak_p10_p90_coverage"] == 1.0
    assert day_outcome(forecast, actual.iloc[:20], "UTC", 9.5, "2026-12-08") is None  # incomplete day
