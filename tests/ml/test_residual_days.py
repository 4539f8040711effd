"""Residual days and the joint sample paths built from them, on data built here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_forecast.ml.residual_days import (
    ResidualDays,
    block_numbers,
    common_days,
    comonotone_paths,
    day_draws,
    forecast_days,
    residual_paths,
    utc_dates,
)
from energy_forecast.ml.scenarios import Scenarios


def _hours(start: str, count: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=count, freq="h", tz="UTC")


def test_a_holdout_keeps_its_last_days_on_a_grid_and_survives_the_bundle_round_trip() -> None:
    index = _hours("2024-01-01T05:00", 24 * 40)
    actual = np.arange(len(index), dtype="float64")
    record = ResidualDays.from_holdout(index, actual, actual - 1.5, keep_days=28)
    assert record is not None
    assert record.start == pd.Timestamp("2024-01-14T00:00Z")  # the last 28 UTC days
    back = ResidualDays.from_dict(record.to_dict())
    dates, table = back.matrix(centred=False)
    assert len(dates) == 27  # the last day is cut at 05:00 by the readings' end
    assert table.shape == (27, 24) and np.allclose(table, 1.5)
    assert np.allclose(back.matrix()[1], 0.0)  # centred: the hold-out's bias is not carried over


def test_a_day_missing_a_few_hours_takes_its_mean_there_and_one_missing_many_is_left_out() -> None:
    index = _hours("2024-01-01", 24 * 3)
    residual = np.repeat([1.0, 2.0, 3.0], 24)
    kept = np.ones(len(index), dtype=bool)
    kept[30] = False  # one hour of the second day never scored
    kept[48:60] = False  # half of the third day
    record = ResidualDays.from_holdout(index[kept], residual[kept], np.zeros(kept.sum()))
    assert record is not None
    dates, table = record.matrix(centred=False)
    assert list(dates.day) == [1, 2]
    assert table[1, 6] == 2.0


def test_common_days_aligns_members_on_the_same_calendar_days() -> None:
    first = (
        pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC"),
        np.arange(4.0)[:, None] * np.ones(24),
    )
    second = (
        pd.date_range("2024-01-03", periods=4, freq="D", tz="UTC"),
        10 + np.arange(4.0)[:, None] * np.ones(24),
    )
    shared, rows = common_days([first, second])
    assert list(shared.day) == [3, 4]
    assert rows[0][:, 0].tolist() == [2.0, 3.0] and rows[1][:, 0].tolist() == [10.0, 11.0]


def test_a_path_reads_one_residual_day_per_forecast_date_scaled_by_its_block() -> None:
    index = _hours("2024-03-01T12:00", 36)  # half a day, then a full day
    table = np.vstack([np.arange(24.0), 100 + np.arange(24.0)])
    draws = np.array([[0, 1], [1, 0]])
    widen = np.where(block_numbers(index, index[0]) == 1, 1.0, 2.0)
    paths = residual_paths(np.full(36, 1000.0), index, table, draws, widen)
    assert paths[0, 0] == 1000 + 12  # path 0 reads day 0 on 1 March, hour 12
    assert paths[0, 12] == 1000 + 2 * 100  # and day 1 on 2 March, hour 0, widened
    assert paths[1, 0] == 1000 + 112 and paths[1, 35] == 1000 + 2 * 23
    assert forecast_days(index).tolist() == [0] * 12 + [1] * 24


def test_paths_are_clipped_at_zero_and_deterministic_given_the_seed() -> None:
    index = _hours("2024-03-01", 48)
    table = np.full((5, 24), -50.0)
    draws = day_draws(index, 5, 200, seed=3)
    assert np.array_equal(draws, day_draws(index, 5, 200, seed=3))
    assert draws.shape == (200, 2) and draws.min() >= 0 and draws.max() < 5
    paths = residual_paths(np.full(48, 10.0), index, table, draws, np.ones(48))
    assert (paths == 0).all()


def test_the_comonotone_fallback_keeps_each_hours_quantiles_and_moves_a_day_together() -> None:
    index = _hours("2024-03-01", 48)
    levels = (0.1, 0.5, 0.9)
    quantiles = np.vstack([np.full(48, 80.0), np.full(48, 100.0), np.linspace(120, 150, 48)])
    paths = comonotone_paths(index, levels, quantiles, 4000, seed=1)
    scenarios = Scenarios(index, quantiles[1], paths, "kWh", "meter")
    got = scenarios.hourly_quantiles(levels)
    assert np.allclose(got["p10"], 80, atol=1) and np.allclose(got["p50"], 100, atol=3)
    assert np.allclose(got["p90"], quantiles[2], rtol=0.02)
    ranks = np.argsort(np.argsort(paths[:, :24], axis=0), axis=0)
    assert (ranks[:, 0] == ranks[:, 23]).mean() > 0.9  # the same draw drives every hour of a day


@pytest.mark.parametrize("start", ["2024-03-01T00:00", "2024-03-01T17:00"])
def test_block_numbers_follow_the_forecasters_utc_day_blocks(start: str) -> None:
    index = _hours(start, 60)
    blocks = block_numbers(index, index[0])
    assert blocks[0] == 1 and blocks[-1] == int((index[-1].floor("D") - index[0].floor("D")).days) + 1


def test_drawing_the_same_calendar_day_for_every_member_keeps_their_dependence() -> None:
    """Two meters with the same residual days: shared draws give a total band twice one meter's
    (their errors coincide), independent draws about 1.4 times (they partly cancel)."""
    rng = np.random.default_rng(0)
    table = rng.normal(0, 10, (28, 24))
    index = _hours("2024-03-01", 24)
    shared = day_draws(index, 28, 4000, seed=1)
    other = day_draws(index, 28, 4000, seed=2)
    one = residual_paths(np.full(24, 100.0), index, table, shared, np.ones(24))
    together = one + residual_paths(np.full(24, 100.0), index, table, shared, np.ones(24))
    apart = one + residual_paths(np.full(24, 100.0), index, table, other, np.ones(24))

    def width(paths: np.ndarray) -> float:
        q = np.quantile(paths, [0.1, 0.9], axis=0)
        return float(np.mean(q[1] - q[0]))

    assert width(together) == pytest.approx(2 * width(one), rel=0.01)
    assert 1.2 < width(apart) / width(one) < 1.6


def test_draws_follow_calendar_dates_so_members_starting_later_read_the_same_day() -> None:
    group_hours = _hours("2024-03-01T20:00", 28)
    late = group_hours[4:]  # a member whose readings reach further
    table = np.arange(3.0)[:, None] * np.ones(24)
    draws = np.array([[2, 1]])
    dates = utc_dates(group_hours)
    early = residual_paths(np.zeros(28), group_hours, table, draws, np.ones(28), dates=dates, clip=False)
    later = residual_paths(np.zeros(24), late, table, draws, np.ones(24), dates=dates, clip=False)
    assert early[0, 4:].tolist() == later[0].tolist() == [1.0] * 24
    assert early[0, :4].tolist() == [2.0] * 4
