"""Alert rules on built series and on real readings (tests/data/alerts_replay.csv) with injected faults."""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from energy_forecast.ml.alerts import (
    BandRule,
    NightRule,
    band_bounds,
    band_columns,
    band_episodes,
    night_minima,
    threshold_episodes,
    trend_episodes,
)
from energy_forecast.ml.quantiles import QuantileOffsets

REPLAY = Path(__file__).resolve().parents[1] / "data" / "alerts_replay.csv"


def hours(n: int, start: str = "2026-03-02") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="h", tz="UTC")


def test_three_outside_hours_raise_and_three_inside_clear() -> None:
    index = hours(12)
    lower, upper = pd.Series(8.0, index), pd.Series(12.0, index)
    actual = pd.Series([10, 10, 13, 15, 14, 10, 16, 10, 10, 10, 10, 10], index, dtype="float64")
    [episode] = band_episodes(actual, lower, upper)
    assert episode.since == index[2]
    assert episode.last_outside == index[6]  # an inside hour between outside ones does not clear
    assert episode.cleared_at == index[9]
    assert episode.hours_outside == 4
    assert episode.direction == "above"
    assert episode.worst_excess == pytest.approx(4.0)  # 16 against an upper bound of 12
    assert episode.worst_excess_bands == pytest.approx(1.0)  # band width 4


def test_two_outside_hours_do_not_raise_and_gaps_are_skipped() -> None:
    index = hours(8)
    lower, upper = pd.Series(8.0, index), pd.Series(12.0, index)
    actual = pd.Series([13, 13, 10, 5, np.nan, 5, 5, 10], index, dtype="float64")
    [episode] = band_episodes(actual, lower, upper)
    assert episode.since == index[3]  # the run 3, (gap), 5, 6: a missing hour does not break it
    assert episode.direction == "below"
    assert episode.active and episode.cleared_at is None
    assert episode.worst_excess == pytest.approx(3.0)


def test_rule_hours_are_configurable() -> None:
    index = hours(6)
    lower, upper = pd.Series(0.0, index), pd.Series(1.0, index)
    actual = pd.Series([2, 2, 0.5, 0.5, 2, 0.5], index, dtype="float64")
    assert band_episodes(actual, lower, upper, BandRule(raise_hours=3)) == []
    episodes = band_episodes(actual, lower, upper, BandRule(raise_hours=2, clear_hours=1))
    assert [(e.since, e.cleared_at) for e in episodes] == [(index[0], index[2])]


def test_band_columns_prefer_the_rule_levels_and_say_what_they_use() -> None:
    assert band_columns(["value", "lower", "upper", "p1", "p10", "p50", "p90", "p99"], BandRule()) == (
        "p1",
        "p99",
        (0.01, 0.99),
    )
    # only P10/P90 published: the widest levels there are, and the caller is told which
    assert band_columns(["lower", "upper", "p10", "p50", "p90"], BandRule())[2] == (0.1, 0.9)
    assert band_columns(["value", "lower", "upper"], BandRule()) == ("lower", "upper", (0.1, 0.9))
    with pytest.raises(ValueError, match="no band"):
        band_columns(["value"], BandRule())


def test_band_bounds_use_published_levels_or_say_they_extrapolated() -> None:
    index = hours(2)
    frame = pd.DataFrame(
        {
            "value": 100.0,
            "lower": 90.0,
            "upper": 110.0,
            "p1": 70.0,
            "p10": 90.0,
            "p50": 100.0,
            "p90": 110.0,
            "p99": 135.0,
        },
        index=index,
    )
    lower, upper, info = band_bounds(frame, BandRule())
    assert list(lower) == [70.0, 70.0] and list(upper) == [135.0, 135.0]
    assert info == {"band": "p1-p99", "levels": [0.01, 0.99]}
    # only P10/P50/P90 published: P1/P99 widened around the median by z(0.99)/z(0.9)
    lower, upper, info = band_bounds(frame[["value", "lower", "upper", "p10", "p50", "p90"]], BandRule())
    ratio = NormalDist().inv_cdf(0.99) / NormalDist().inv_cdf(0.9)
    assert upper.iloc[0] == pytest.approx(100.0 + 10.0 * ratio) and ratio == pytest.approx(1.815, abs=1e-3)
    assert lower.iloc[0] == pytest.approx(100.0 - 10.0 * ratio)
    assert info == {"band": "p1-p99", "levels": [0.01, 0.99], "derived_from": "p10-p90"}
    # an old forecast without quantiles: lower/upper are P10/P90 around the value; never below zero
    lower, upper, info = band_bounds(pd.DataFrame({"value": 5.0, "lower": 1.0, "upper": 9.0}, index=index))
    assert lower.iloc[0] == 0.0 and info["derived_from"] == "p10-p90"
    # a wider published level than asked is used as it is
    _, _, info = band_bounds(frame, BandRule(lower_level=0.05, upper_level=0.95))
    assert info == {"band": "p1-p99", "levels": [0.01, 0.99]}


def test_night_minimum_uses_local_hours() -> None:
    index = hours(48, "2026-07-01")
    flow = pd.Series(10.0, index)
    local_two = pd.Timestamp("2026-07-02 02:00", tz="Europe/Rome").tz_convert("UTC")
    flow[local_two] = 3.0  # 00:00 UTC: inside 01:00-05:00 Rome (UTC+2), outside it in UTC
    minima = night_minima(flow, "Europe/Rome")
    assert minima[pd.Timestamp("2026-07-01 23:00", tz="UTC")] == 3.0
    assert night_minima(flow, "UTC").min() == 10.0


def test_threshold_rule_raises_and_clears_after_calm_nights() -> None:
    nights = pd.Series(
        [2, 2, 5, 6, 2, 5, 2, 2], pd.date_range("2026-01-01 01:00", periods=8, freq="D", tz="UTC")
    )
    assert threshold_episodes(nights, NightRule()) == []  # no threshold set: off
    [episode] = threshold_episodes(nights, NightRule(threshold=4.0, clear_nights=2))
    assert episode.since == nights.index[2]
    assert episode.cleared_at == nights.index[7]
    assert episode.worst_excess == pytest.approx(2.0)


def test_trend_rule_needs_several_nights_above_the_baseline() -> None:
    base = [10.0, 11, 9, 10, 12, 10, 9, 11, 10, 10, 11, 9, 10, 10]
    index = pd.date_range("2026-01-01 01:00", periods=24, freq="D", tz="UTC")
    one_odd_night = pd.Series([*base, 10, 20, 10, 10, 10, 10, 10, 10, 10, 10], index)
    assert trend_episodes(one_odd_night, NightRule()) == []
    leak = pd.Series([*base, 11, 13, 13, 14, 14, 10, 10, 11, 10, 10], index)
    [episode] = trend_episodes(leak, NightRule())
    assert episode.since == index[15]  # the first of three nights in a row above 12 (baseline 10)
    assert episode.detail == {"baseline": 10.0, "raise_level": 12.0}
    assert episode.cleared_at == index[20]  # second night back below the raise level
    assert episode.worst_value == 14.0


# -- real readings with injected faults --------------------------------------------------------------


def replay(meter_id: str) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Real readings and a calibrated P1-P99 band: same hour last week plus split-conformal offsets
    of the residuals of the two weeks before the replayed weeks (ml.quantiles)."""
    data = pd.read_csv(REPLAY, parse_dates=["timestamp"])
    series = data[data.meter_id == meter_id].set_index("timestamp")["consumption"].asfreq("h")
    naive = series.shift(168)
    offsets = QuantileOffsets.from_residuals((series - naive).iloc[168:504].dropna())
    low, high = offsets.at([0.01, 0.99])
    return series, naive + low, naive + high


def test_step_change_on_real_electricity_is_raised_and_cleared() -> None:
    series, lower, upper = replay("tetouan_zone1")
    scored = slice(pd.Timestamp("2017-03-06", tz="UTC"), None)
    clean = band_episodes(series[scored], lower[scored], upper[scored])
    fault = pd.date_range("2017-03-10 08:00", periods=10, freq="h", tz="UTC")  # a feeder transfer: +40 %
    faulty = series.copy()
    faulty[fault] *= 1.4
    episodes = band_episodes(faulty[scored], lower[scored], upper[scored])
    new = [e for e in episodes if e not in clean]
    [episode] = [e for e in new if fault[0] <= e.since <= fault[2]]
    assert episode.direction == "above"
    assert episode.cleared_at is not None and fault[-1] < episode.cleared_at <= fault[-1] + pd.Timedelta(
        hours=6
    )
    assert episode.worst_excess_bands is not None and episode.worst_excess_bands > 0.5
    assert not any(e.since <= fault[-1] and (e.cleared_at or fault[-1]) >= fault[0] for e in clean)


def test_night_flow_rise_on_real_water_is_raised_and_cleared() -> None:
    series, _, _ = replay("bwdf_dma01")
    assert trend_episodes(night_minima(series, "Europe/Rome"), NightRule()) == []  # no false alarm
    leak = pd.Series(0.0, series.index)
    leak[pd.Timestamp("2022-03-08", tz="UTC") : pd.Timestamp("2022-03-13 12:00", tz="UTC")] = 4.0  # m3/h
    minima = night_minima(series + leak, "Europe/Rome")
    [episode] = trend_episodes(minima, NightRule())
    assert pd.Timestamp("2022-03-08", tz="UTC") <= episode.since <= pd.Timestamp("2022-03-11", tz="UTC")
    assert episode.cleared_at is not None
    assert pd.Timestamp("2022-03-13", tz="UTC") < episode.cleared_at <= pd.Timestamp("2022-03-16", tz="UTC")
    [threshold] = threshold_episodes(minima, NightRule(threshold=float(minima.max()) - 0.5))
    assert threshold.since >= pd.Timestamp("2022-03-08", tz="UTC")
