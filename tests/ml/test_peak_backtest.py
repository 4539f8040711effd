"""Daily peak backtest: the product's forecaster, its residual-day scenarios, day-ahead local days."""

from __future__ import annotations

import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.ml.peak_backtest import daily_peaks, peak_backtest
from tests.conftest import hourly_series


def test_scores_the_next_local_day_from_each_origin_with_both_thresholds() -> None:
    readings = hourly_series("2024-01-01", 24 * 40, seed=3)
    temperature = hourly_series("2024-01-01", 24 * 40, seed=2, base=10, name="temperature")

    result = peak_backtest(
        readings, temperature, meter_id="b1", meter_type=MeterType.ELECTRICITY, timezone="Europe/Berlin",
        days=3, size=50,
    )  # fmt: skip

    # Origins 2024-02-07..09 00:00 UTC; a Berlin day starts at 23:00 UTC, so each scores the next day.
    assert [o.day for o in result.outcomes["fixed"]] == ["2024-02-08", "2024-02-09"]  # the 10th is incomplete
    assert result.residual_days >= 7 and not result.notes
    train_peaks = daily_peaks(
        readings[readings.index < pd.Timestamp("2024-02-07", tz="UTC")], "Europe/Berlin"
    )
    assert train_peaks["value"].min() <= result.fixed_threshold <= train_peaks["value"].max()
    for rule in ("month_to_date", "fixed"):
        scores = result.scores[rule]
        assert scores["days"] == 2 and 0 <= scores["brier"] <= 1 and scores["hour_mae"] >= 0
    first = result.outcomes["fixed"][0]
    berlin_day = readings[
        pd.Timestamp("2024-02-07 23:00", tz="UTC") : pd.Timestamp("2024-02-08 22:00", tz="UTC")
    ]
    assert (first.actual_peak, first.actual_hour) == (berlin_day.max(), berlin_day.idxmax())
    assert result.naive["days"] == 2
