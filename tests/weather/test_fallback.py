"""The fallback chain: order, per-hour sources, failures kept, cooldown of a failing provider."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_forecast.domain.series import make_series
from energy_forecast.domain.sites import Site
from energy_forecast.errors import WeatherAuthError, WeatherProviderError
from energy_forecast.features.grid import hourly_index
from energy_forecast.weather.fallback import FallbackChain

SITE = Site("s1", 45.0, 7.0)
INDEX = hourly_index(pd.Timestamp("2026-01-01T00:00Z"), pd.Timestamp("2026-01-01T09:00Z"))


class Fixed:
    """A provider serving a fixed value for the hours it covers, counting its calls."""

    def __init__(
        self, name: str, value: float, hours: slice = slice(None), error: WeatherProviderError | None = None
    ):
        self.name, self.value, self.hours, self.error = name, value, hours, error
        self.calls: list[tuple[pd.Timestamp, pd.Timestamp]] = []

    def hourly_temperature(self, site: Site, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        self.calls.append((start, end))
        if self.error is not None:
            raise self.error
        covered = INDEX[self.hours]
        covered = covered[(covered >= start) & (covered < end)]
        return make_series(covered, np.full(len(covered), self.value), "temperature")


def test_each_provider_is_asked_only_for_the_hours_still_missing() -> None:
    first = Fixed("first", 1.0, slice(0, 4))
    second = Fixed("second", 2.0)

    result = FallbackChain([first, second]).fetch(SITE, INDEX)

    assert list(result.sources) == ["first"] * 4 + ["second"] * 6
    assert list(result.values) == [1.0] * 4 + [2.0] * 6
    assert second.calls == [(INDEX[4], INDEX[-1] + pd.Timedelta(hours=1))]
    assert result.counts() == {"first": 4, "second": 6}


def test_a_failing_provider_falls_back_and_its_error_is_kept() -> None:
    broken = Fixed("owm", 0.0, error=WeatherAuthError("owm", "HTTP 401"))

    result = FallbackChain([broken, Fixed("meteo", 3.0)]).fetch(SITE, INDEX)

    assert set(result.sources) == {"meteo"} and not result.missing.any()
    assert [f.provider for f in result.failures] == ["owm"]


def test_hours_nobody_serves_stay_missing() -> None:
    result = FallbackChain([Fixed("partial", 5.0, slice(0, 2))]).fetch(SITE, INDEX)

    assert int(result.missing.sum()) == 8 and list(result.sources[2:]) == [None] * 8
    assert len(result.series()) == 2


def test_a_provider_that_failed_is_skipped_during_the_cooldown_only() -> None:
    clock = [0.0]
    broken = Fixed("down", 0.0, error=WeatherAuthError("down", "HTTP 401"))
    chain = FallbackChain([broken], clock=lambda: clock[0])

    chain.fetch(SITE, INDEX)
    skipped = chain.around(last=[Fixed("climatology", 9.0)]).fetch(SITE, INDEX)
    clock[0] += 61
    chain.fetch(SITE, INDEX)

    assert len(broken.calls) == 2  # not during the cooldown, shared by around()
    assert set(skipped.sources) == {"climatology"} and skipped.failures[0].provider == "down"
