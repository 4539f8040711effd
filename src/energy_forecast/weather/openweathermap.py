"""OpenWeatherMap (the seed's provider): current weather and the 5-day/3-hour forecast of API 2.5,
plus the hourly History API where the account's plan includes it.

- future and the current hour: ``{base_url}/weather`` (one observation, ``dt`` now) and
  ``{base_url}/forecast`` (``list`` of 3-hourly ``{"dt": epoch, "main": {"temp": ...}}``), merged and
  linearly interpolated to whole hours between the first and the last point, never extrapolated;
- past hours: ``{history_url}/history/city?type=hour`` in windows of at most a week (the API's
  limit per call). Free plans answer 401 there; the chain then asks the next provider.

Every call asks ``units=metric`` (°C); OWM's default would be kelvin. Error bodies are
``{"cod": 401, "message": "Invalid API key. ..."}`` and surface with the provider's message.
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

HISTORY_WINDOW = pd.Timedelta(days=7)
FORECAST_TTL = timedelta(minutes=30)
HISTORY_TTL = timedelta(hours=24)
HOUR_S = 3600


def parse_points(body: Any, provider: str = "openweathermap") -> list[tuple[int, float]]:
    """``(epoch_s, temp)`` pairs from a current-weather body or a ``list`` body (forecast, history).

    Raises:
        WeatherProviderError: a ``cod`` other than 200, or a body without the documented fields.
    """
    if not isinstance(body, dict):
        raise WeatherProviderError(provider, "unexpected answer: not a JSON object")
    if str(body.get("cod", "200")) != "200":
        raise WeatherProviderError(provider, f"cod {body.get('cod')}: {body.get('message', '')}")
    items = body.get("list", [body])
    try:
        return [(int(item["dt"]), float(item["main"]["temp"])) for item in items]
    except (KeyError, TypeError, ValueError) as exc:
        raise WeatherProviderError(provider, f"unexpected answer, missing {exc}") from exc


def interpolate_hourly(points: list[tuple[int, float]]) -> pd.Series:
    """Whole UTC hours between the first and last point, linearly interpolated in time."""
    if not points:
        return empty_series("temperature")
    stamps, temps = (np.array(v, dtype="float64") for v in zip(*sorted(set(points)), strict=True))
    first = int(np.ceil(stamps[0] / HOUR_S)) * HOUR_S
    hours = np.arange(first, stamps[-1] + 1, HOUR_S, dtype="int64")
    values = np.interp(hours, stamps, temps)
    return make_series(hours.astype("datetime64[s]"), values, "temperature")


class OpenWeatherMapProvider:
    """``WeatherProvider`` for OpenWeatherMap API 2.5 (needs an API key)."""

    name = "openweathermap"

    def __init__(
        self,
        fetcher: JsonFetcher,
        api_key: str,
        base_url: str,
        history_url: str,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._fetch = fetcher
        self._key = api_key
        self._base = base_url.rstrip("/")
        self._history = history_url.rstrip("/") + "/history/city"
        self._clock = clock

    def hourly_temperature(self, site: Site, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        if end <= start:
            return empty_series("temperature")
        now = self._clock().floor("h")
        parts: list[pd.Series] = []
        errors: list[WeatherProviderError] = []
        calls = []
        if start < now:
            calls.append(lambda: self._history_hours(site, start, min(end, now)))
        if end > now:
            calls.append(lambda: self._forecast_hours(site))
        for call in calls:
            try:
                parts.append(call())
            except WeatherProviderError as exc:
                errors.append(exc)
        if errors and not any(len(p) for p in parts):
            raise errors[0]  # nothing served: let the chain fall back and report why
        series = pd.concat(parts) if parts else empty_series("temperature")
        series = series[~series.index.duplicated(keep="last")].sort_index()
        return series[(series.index >= start) & (series.index < end)]

    def _params(self, site: Site) -> dict[str, str]:
        return {
            "lat": f"{site.latitude:.4f}",
            "lon": f"{site.longitude:.4f}",
            "units": "metric",
            "appid": self._key,
        }

    def _forecast_hours(self, site: Site) -> pd.Series:
        params = self._params(site)
        current = parse_points(self._fetch.get_json(f"{self._base}/weather", params, ttl=FORECAST_TTL))
        ahead = parse_points(self._fetch.get_json(f"{self._base}/forecast", params, ttl=FORECAST_TTL))
        return interpolate_hourly(current + ahead)

    def _history_hours(self, site: Site, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        points: list[tuple[int, float]] = []
        lo = start
        while lo < end:
            hi = min(lo + HISTORY_WINDOW, end)
            params = self._params(site) | {
                "type": "hour",
                "start": str(int(lo.timestamp())),
                "end": str(int(hi.timestamp())),
            }
            points += parse_points(self._fetch.get_json(self._history, params, ttl=HISTORY_TTL))
            lo = hi
        return interpolate_hourly(points)
