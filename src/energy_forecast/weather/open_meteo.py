"""Open-Meteo: no key, a forecast API (past ~3 months to 16 days ahead) and a historical archive
(reanalysis from 1940, about five days behind real time).

Days older than ``ARCHIVE_LAG`` go to the archive, the rest to the forecast API, each as one
``start_date``/``end_date`` request (inclusive dates). Both answer the same shape::

    {"utc_offset_seconds": 0, "timezone": "GMT",
     "hourly_units": {"time": "iso8601", "temperature_2m": "°C"},
     "hourly": {"time": ["2024-01-01T00:00", ...], "temperature_2m": [5.1, null, ...]}}

We ask for ``timezone=GMT`` but still read ``utc_offset_seconds``, since the times are local to it.
Nulls (not yet in the archive, beyond the model's horizon) are left out, per the port's contract.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from energy_forecast.domain.series import empty_series, make_series
from energy_forecast.domain.sites import Site
from energy_forecast.errors import WeatherProviderError
from energy_forecast.weather.clock import Clock, utc_now
from energy_forecast.weather.http import JsonFetcher

ARCHIVE_LAG = timedelta(days=5)
FORECAST_DAYS = 16
FORECAST_TTL = timedelta(minutes=30)
ARCHIVE_TTL = timedelta(hours=24)


def parse_hourly(body: Any, provider: str = "open-meteo") -> pd.Series:
    """The ``hourly.temperature_2m`` column as a UTC contract series, nulls dropped.

    Raises:
        WeatherProviderError: the body lacks the documented fields or uses another unit.
    """
    try:
        hourly = body["hourly"]
        times, values = hourly["time"], hourly["temperature_2m"]
        offset = int(body.get("utc_offset_seconds", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise WeatherProviderError(provider, f"unexpected answer, missing {exc}") from exc
    unit = (body.get("hourly_units") or {}).get("temperature_2m", "°C")
    if unit != "°C":
        raise WeatherProviderError(provider, f"temperature unit {unit!r}, expected °C")
    if len(times) != len(values):
        raise WeatherProviderError(provider, "hourly.time and hourly.temperature_2m differ in length")
    if not times:
        return empty_series("temperature")
    local = pd.DatetimeIndex(pd.to_datetime(times, format="%Y-%m-%dT%H:%M"))
    utc = (local - pd.Timedelta(seconds=offset)).tz_localize("UTC")
    array = np.array([np.nan if v is None else v for v in values], dtype="float64")
    keep = np.isfinite(array)
    return make_series(utc[keep], array[keep], "temperature")


class OpenMeteoProvider:
    """``WeatherProvider`` for Open-Meteo's forecast and archive APIs."""

    name = "open-meteo"

    def __init__(
        self, fetcher: JsonFetcher, forecast_url: str, archive_url: str, *, clock: Clock = utc_now
    ) -> None:
        self._fetch = fetcher
        self._forecast_url = forecast_url.rstrip("/") + "/forecast"
        self._archive_url = archive_url.rstrip("/") + "/archive"
        self._clock = clock

    def hourly_temperature(self, site: Site, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        if end <= start:
            return empty_series("temperature")
        today = self._clock().normalize()
        split = today - ARCHIVE_LAG
        horizon = today + pd.Timedelta(days=FORECAST_DAYS)
        parts = []
        if start < split:
            parts.append(self._get(self._archive_url, site, start, min(end, split), ARCHIVE_TTL))
        if end > split and start < horizon:
            parts.append(
                self._get(self._forecast_url, site, max(start, split), min(end, horizon), FORECAST_TTL)
            )
        series = pd.concat(parts) if len(parts) > 1 else parts[0] if parts else empty_series("temperature")
        series = series[~series.index.duplicated(keep="first")].sort_index()
        return series[(series.index >= start) & (series.index < end)]

    def _get(self, url: str, site: Site, start: pd.Timestamp, end: pd.Timestamp, ttl: timedelta) -> pd.Series:
        last = end - pd.Timedelta(hours=1)
        params = {
            "latitude": f"{site.latitude:.4f}",
            "longitude": f"{site.longitude:.4f}",
            "hourly": "temperature_2m",
            "timezone": "GMT",
            "start_date": start.strftime("%Y-%m-%d"),
            "end_date": last.strftime("%Y-%m-%d"),
        }
        return parse_hourly(self._fetch.get_json(url, params, ttl=ttl), self.name)
