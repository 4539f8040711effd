"""The empirical copula: calibrated marginals per hour, ranks (dependence) from residual-day draws."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_forecast.ml.copula import read_quantiles, schaake_paths, uniform_ranks
from energy_forecast.ml.residual_days import ResidualDays, day_draws, residual_draws

LEVELS = tuple(round(k / 100, 2) for k in range(1, 100))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rx, ry)[0, 1])


def _normal_quantiles(mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """``(levels, hours)`` quantile table of independent normal marginals."""
    from statistics import NormalDist

    z = np.array([NormalDist().inv_cdf(q) for q in LEVELS])
    return mean[None, :] + sd[None, :] * z[:, None]


def test_ranks_are_even_levels_with_ties_in_path_order() -> None:
    scores = np.array([[3.0, 1.0], [1.0, 1.0], [3.0, 0.0], [2.0, 1.0]])
    u = uniform_ranks(scores)
    assert np.allclose(u[:, 0] * 4 - 0.5, [2, 0, 3, 1])  # the tie of paths 0 and 2: path 0 first
    assert np.allclose(u[:, 1] * 4 - 0.5, [1, 2, 0, 3])  # three tied: in path order
    assert np.allclose(np.sort(u, axis=0), (np.arange(4)[:, None] + 0.5) / 4)


def test_reading_quantiles_interpolates_and_holds_flat_beyond_the_grid() -> None:
    table = np.array([[0.0, 10.0], [1.0, 20.0], [3.0, 20.0]])  # levels 0.1, 0.5, 0.9
    u = np.array([[0.05, 0.3], [0.7, 0.99]])
    got = read_quantiles(u, (0.1, 0.5, 0.9), table)
    assert np.allclose(got, [[0.0, 15.0], [2.0, 20.0]])


def test_the_mapped_paths_have_the_members_quantiles_as_marginals() -> None:
    hours = pd.date_range("2024-03-04", periods=48, freq="h", tz="UTC")
    rng = np.random.default_rng(1)
    residuals = rng.normal(0.0, 1.0, size=(28, 24))  # narrow, ordinary days
    draws = day_draws(hours, 28, 2000, seed=3)
    scores = residual_draws(hours, residuals, draws)
    mean = 50 + 10 * np.sin(np.arange(48) / 4)
    sd = np.linspace(2.0, 6.0, 48)  # the calibrated spread, wider than the residual days'
    quantiles = _normal_quantiles(mean, sd)
    paths = schaake_paths(scores, LEVELS, quantiles)
    for level in (0.1, 0.5, 0.9):
        row = LEVELS.index(level)
        observed = np.quantile(paths, level, axis=0)
        assert np.allclose(observed, quantiles[row], atol=0.05 * sd.max())
    # the same even grid of levels at every hour: the share of paths below the P10 is 10 %
    below = (paths < quantiles[LEVELS.index(0.1)][None, :]).mean(axis=0)
    assert np.all(np.abs(below - 0.1) <= 0.011)


def test_members_that_drew_the_same_day_stay_co_ranked_and_the_hours_keep_their_dependence() -> None:
    hours = pd.date_range("2024-03-04", periods=24, freq="h", tz="UTC")
    rng = np.random.default_rng(7)
    level = rng.normal(0.0, 1.0, size=(28, 1))  # each day's error is one level over its hours
    first = level + 0.05 * rng.normal(size=(28, 24))
    second = 3.0 * first + 2.0  # another meter whose errors rise and fall with the first's
    draws = day_draws(hours, 28, 1000, seed=11)  # one draw per path, shared by both meters
    a = schaake_paths(
        residual_draws(hours, first, draws), LEVELS, _normal_quantiles(np.full(24, 100.0), np.full(24, 5.0))
    )
    b = schaake_paths(
        residual_draws(hours, second, draws), LEVELS, _normal_quantiles(np.full(24, 20.0), np.full(24, 1.0))
    )
    rank_a, rank_b = uniform_ranks(a), uniform_ranks(b)
    assert np.array_equal(rank_a, rank_b)  # co-ranked: the same order of paths in every hour
    assert _spearman(a[:, 0], a[:, 23]) > 0.95  # the hours of a day move together
    # the sum of co-ranked members is their quantiles added: P90 of the total = 100+20 + 1.28*(5+1)
    total = a + b
    assert abs(np.quantile(total[:, 5], 0.9) - (120 + 1.2816 * 6)) < 0.3


def test_independent_days_give_independent_ranks_across_members() -> None:
    hours = pd.date_range("2024-03-04", periods=24, freq="h", tz="UTC")
    rng = np.random.default_rng(5)
    first, second = rng.normal(size=(56, 24)), rng.normal(size=(56, 24))
    draws = day_draws(hours, 56, 3000, seed=2)
    quantiles = _normal_quantiles(np.zeros(24), np.ones(24))
    a = schaake_paths(residual_draws(hours, first, draws), LEVELS, quantiles, clip=False)
    b = schaake_paths(residual_draws(hours, second, draws), LEVELS, quantiles, clip=False)
    assert abs(_spearman(a[:, 3], b[:, 3])) < 0.15


def test_a_residual_record_cut_to_its_last_days() -> None:
    index = pd.date_range("2024-01-01", periods=24 * 60, freq="h", tz="UTC")
    record = ResidualDays.from_holdout(
        index, np.arange(len(index), dtype="float64"), np.zeros(len(index)), 56
    )
    assert record is not None
    cut = record.last(28)
    assert cut.start == pd.Timestamp("2024-02-02T00:00Z")
    assert len(cut.values) == 28 * 24 and cut.values[0] == record.values[28 * 24]
    assert len(cut.matrix()[0]) == 28
    assert record.last(100).start == record.start
