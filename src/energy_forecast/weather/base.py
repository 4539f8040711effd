"""The weather port: hourly temperature for a site and a UTC time range.

One method, so a provider is easy to fake and easy to chain. Its contract:

- ``start`` and ``end`` are tz-aware UTC whole hours; the answer covers ``start <= t < end``;
- the answer is a contract series (``domain.series``): °C per UTC hour, no NaN;
- hours the provider cannot serve (beyond its forecast horizon, before its archive, values it
  reports as null) are simply absent: the chain asks the next provider for them;
- a provider that cannot answer at all raises ``WeatherProviderError`` (``WeatherAuthError`` for a
  refused key, ``WeatherUnavailableError`` for timeouts, network errors and 429/5xx after retries).

``name`` is what the answer's ``source`` says for each value the provider produced.
"""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from energy_forecast.domain.sites import Site


class WeatherProvider(Protocol):
    """Hourly 2 m air temperature for a site, past and future alike."""

    name: str

    def hourly_temperature(self, site: Site, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        """°C per UTC hour with ``start <= t < end``; unservable hours absent."""
        ...
