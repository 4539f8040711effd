from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_forecast.features.calendar import calendar_features, has_christmas, year_end_dates


def utc_day(day: str) -> pd.DatetimeIndex:
    return pd.date_range(day, periods=24, freq="h", tz="UTC")


def test_spring_forward_day_skips_local_two_oclock_in_rome() -> None:
    # 2024-03-31: Europe/Rome jumps from 02:00 CET to 03:00 CEST (01:00 UTC).
    hours = calendar_features(utc_day("2024-03-31"), timezone="Europe/Rome", country=None, names=["hour"])
    local = hours["hour"].astype(int).tolist()
    assert local[:3] == [1, 3, 4]
    assert 2 not in local
    assert local[-1] == 1  # 23:00 UTC is already 01:00 on April 1st in CEST


def test_fall_back_day_repeats_local_two_oclock_in_london() -> None:
    # 2024-10-27: Europe/London goes back from 02:00 BST to 01:00 GMT at 01:00 UTC.
    hours = calendar_features(utc_day("2024-10-27"), timezone="Europe/London", country=None, names=["hour"])
    local = hours["hour"].astype(int).tolist()
    assert local[:3] == [1, 1, 2]
    assert local.count(1) == 2


def test_weekday_and_weekend_follow_local_midnight() -> None:
    # Sunday 2024-06-02 22:00 UTC is Monday 00:00 in Rome (CEST, UTC+2).
    index = pd.DatetimeIndex(["2024-06-02 21:00", "2024-06-02 22:00"], tz="UTC")
    columns = calendar_features(index, timezone="Europe/Rome", country=None, names=["weekday", "weekend"])
    assert columns["weekday"].tolist() == [6.0, 0.0]
    assert columns["weekend"].tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("country", "expected"),
    [pytest.param("IT", 1.0, id="italy-christmas"), pytest.param(None, 0.0, id="no-country")],
)
def test_holiday_flag_uses_local_date_and_country(country: str | None, expected: float) -> None:
    # 2024-12-24 23:30 UTC would be the 24th in UTC but 25th in Rome; use 23:00 UTC = 00:00 local.
    index = pd.DatetimeIndex(["2024-12-24 23:00", "2024-12-27 12:00"], tz="UTC")
    columns = calendar_features(index, timezone="Europe/Rome", country=country, names=["holiday"])
    np.testing.assert_array_equal(columns["holiday"], [expected, 0.0])


def test_unknown_calendar_feature_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown calendar"):
        calendar_features(utc_day("2024-01-01"), timezone="UTC", country=None, names=["moon_phase"])


def test_year_end_marks_christmas_to_new_year_and_a_bridge_day_in_local_time() -> None:
    # 2018: Christmas on a Tuesday, so Monday the 24th bridges the weekend to the break.
    days = pd.date_range("2018-12-21", "2019-01-03", freq="D", tz="Europe/London").tz_convert("UTC")
    columns = calendar_features(
        pd.DatetimeIndex(days), timezone="Europe/London", country="GB", names=["year_end", "holiday"]
    )
    marked = [d.date().isoformat() for d, on in zip(days, columns["year_end"], strict=True) if on]
    assert marked == [f"2018-12-{d}" for d in range(24, 32)] + ["2019-01-01"]
    assert columns["holiday"].sum() == 3  # only 25, 26 December and 1 January are public holidays
    # 2019: Christmas on a Wednesday, no bridge day: Tuesday the 24th and Thursday 2 January work.
    later = pd.DatetimeIndex(["2019-12-24 12:00", "2019-12-27 12:00", "2020-01-01 12:00", "2020-01-02 12:00"])
    flags = calendar_features(later.tz_localize("UTC"), timezone="UTC", country="GB", names=["year_end"])
    assert flags["year_end"].tolist() == [0.0, 1.0, 1.0, 0.0]


def test_year_end_follows_the_holiday_calendar_not_a_country_list() -> None:
    assert has_christmas("GB") and has_christmas("IT") and has_christmas("US")
    assert not has_christmas("MA") and not has_christmas(None) and not has_christmas("ZZ")
    index = pd.date_range("2017-12-20", "2018-01-05", freq="h", tz="UTC")
    flags = calendar_features(index, timezone="Africa/Casablanca", country="MA", names=["year_end"])
    assert not flags["year_end"].any()
    assert year_end_dates("MA", (2017, 2018)) == frozenset()
