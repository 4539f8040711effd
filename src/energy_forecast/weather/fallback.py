"""Ask providers in order, each for the hours still missing; say which one produced each value.

A provider that raises ``WeatherProviderError`` is skipped for this call, its error kept in the
answer, and, when the error is one a retry would not fix soon (timeout, network, refused key),
skipped for ``cooldown`` as well, so an offline machine does not pay a timeout on every forecast.
Other errors (``StorageError`` from a store-backed source) propagate: they are not weather problems.

``around()`` builds a chain with extra sources before and after these providers (the stored
observations first, a climatology last) that shares this chain's cooldown state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from energy_forecast.domain.series import make_series
from energy_forecast.domain.sites import Site
from energy_forecast.errors import WeatherAuthError, WeatherProviderError, WeatherUnavailableError
from energy_forecast.weather.base import WeatherProvider

HOUR = pd.Timedelta(hours=1)


@dataclass
class SourcedTemperature:
    """Temperatures on an hourly grid: ``values`` NaN and ``sources`` None where nobody answered."""

    index: pd.DatetimeIndex
    values: np.ndarray
    sources: np.ndarray
    failures: list[WeatherProviderError] = field(default_factory=list)

    @property
    def missing(self) -> np.ndarray:
        return np.isnan(self.values)

    def series(self, source: str | None = None) -> pd.Series:
        """The values that some source (or the given one) produced, as a contract series."""
        keep = ~self.missing if source is None else self.sources == source
        return make_series(self.index[keep], self.values[keep], "temperature")

    def counts(self) -> dict[str, int]:
        names, counts = np.unique(self.sources[~self.missing].astype(str), return_counts=True)
        return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


class _Health:
    """Cooldown deadlines per provider name, shared by chains built with ``around()``."""

    def __init__(self, cooldown: timedelta, clock: Callable[[], float]) -> None:
        self.cooldown = cooldown.total_seconds()
        self.clock = clock
        self._until: dict[str, tuple[float, WeatherProviderError]] = {}
        self._lock = threading.Lock()

    def blocked(self, name: str) -> WeatherProviderError | None:
        with self._lock:
            found = self._until.get(name)
            if found is None or found[0] <= self.clock():
                self._until.pop(name, None)
                return None
            return found[1]

    def failed(self, name: str, error: WeatherProviderError) -> None:
        if isinstance(error, WeatherAuthError | WeatherUnavailableError):
            with self._lock:
                self._until[name] = (self.clock() + self.cooldown, error)


class FallbackChain:
    """Providers in order of preference; ``fetch`` fills an hourly grid from them."""

    def __init__(
        self,
        providers: Sequence[WeatherProvider],
        *,
        cooldown: timedelta = timedelta(seconds=60),
        clock: Callable[[], float] = time.monotonic,
        _health: _Health | None = None,
    ) -> None:
        self.providers = list(providers)
        self._health = _health or _Health(cooldown, clock)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.providers]

    def around(
        self, first: Sequence[WeatherProvider] = (), last: Sequence[WeatherProvider] = ()
    ) -> FallbackChain:
        return FallbackChain([*first, *self.providers, *last], _health=self._health)

    def fetch(self, site: Site, index: pd.DatetimeIndex) -> SourcedTemperature:
        """Temperature for every hour of ``index`` that some provider can serve, first one wins."""
        index = pd.DatetimeIndex(index)
        result = SourcedTemperature(
            index, np.full(len(index), np.nan), np.full(len(index), None, dtype=object)
        )
        for provider in self.providers:
            missing = result.missing
            if not missing.any():
                break
            blocked = self._health.blocked(provider.name)
            if blocked is not None:
                result.failures.append(blocked)
                continue
            hours = index[missing]
            try:
                served = provider.hourly_temperature(site, hours[0], hours[-1] + HOUR)
            except WeatherProviderError as exc:
                self._health.failed(provider.name, exc)
                result.failures.append(exc)
                continue
            values = served.reindex(index).to_numpy(dtype="float64")
            take = missing & np.isfinite(values)
            result.values[take] = values[take]
            result.sources[take] = provider.name
        return result
