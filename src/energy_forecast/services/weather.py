"""Site temperature from the store and the weather providers, with the source of every value.

Order of sources: stored observations first (so a period already in the store costs no provider
call), then the external providers of the chain, then, only where a forecast needs a value for
every hour, the site climatology. Provider values for past hours are written to the store, so the
next request for them is served from it; forecasts for future hours are not stored, because they
would later pass for observations (the providers' response cache absorbs repeats instead).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd

from energy_forecast.domain.series import empty_series, make_series, to_utc
from energy_forecast.domain.sites import Site
from energy_forecast.errors import InputDataError, NotFoundError, WeatherAuthError, WeatherProviderError
from energy_forecast.features.grid import hourly_index
from energy_forecast.services.climatology import climatology_at, climatology_table
from energy_forecast.storage.base import SeriesStore
from energy_forecast.weather.fallback import FallbackChain, SourcedTemperature

OBSERVED = "observed"
CLIMATOLOGY = "climatology"
MAX_SERIES_SPAN = timedelta(days=366)


class StoredObservations:
    """The store's temperature series as a provider: what we have, no network."""

    name = OBSERVED

    def __init__(self, store: SeriesStore) -> None:
        self._store = store

    def hourly_temperature(self, site: Site, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        return self._store.read_temperature(site.site_id, start, end)


class SiteClimatology:
    """Mean by day-of-year and UTC hour over the stored years (``services.climatology``)."""

    name = CLIMATOLOGY

    def __init__(self, store: SeriesStore) -> None:
        self._store = store

    def hourly_temperature(self, site: Site, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        stored = self._store.read_temperature(site.site_id)
        if stored.empty or end <= start:
            return empty_series("temperature")
        index = hourly_index(start, end - pd.Timedelta(hours=1))
        return make_series(index, climatology_at(climatology_table(stored), index), "temperature")


def resolve_site(store: SeriesStore, site_id: str | None, default: str | None = None) -> Site:
    """The named site; without a name, ``default`` (the current location) if registered, else the
    only registered site.

    Raises:
        NotFoundError: the site (or any site) is not registered.
        InputDataError: no name given and several sites exist.
    """
    if site_id is not None:
        site = store.get_site(site_id)
        if site is None:
            raise NotFoundError(
                f"site {site_id!r} is not registered; import its temperatures or meters, or create it "
                "with POST /location/ {latitude, longitude, city, site_id}"
            )
        return site
    if default is not None and (current := store.get_site(default)) is not None:
        return current
    sites = store.list_sites()
    if len(sites) == 1:
        return sites[0]
    if not sites:
        raise NotFoundError(
            "no site is registered; create one with POST /location/ {latitude, longitude, city}"
        )
    raise InputDataError(
        f"{len(sites)} sites are registered ({', '.join(s.site_id for s in sites)}); name one with "
        "site_id, or set the current location with POST /location/ {latitude, longitude, city}"
    )


def most_useful_failure(failures: list[WeatherProviderError]) -> WeatherProviderError:
    """A refused key first (the user can fix it), else the first provider's error."""
    return next((f for f in failures if isinstance(f, WeatherAuthError)), failures[0])


@dataclass
class TemperatureSeries:
    site: Site
    temperature: SourcedTemperature
    written: int


def temperature_series(
    store: SeriesStore,
    chain: FallbackChain,
    site: Site,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    now: pd.Timestamp,
) -> TemperatureSeries:
    """Every UTC hour in ``[start, end]`` from the store, then the providers; past fetches stored.

    Hours beyond every provider's reach stay empty (``source`` None).

    Raises:
        InputDataError: inverted window or longer than ``MAX_SERIES_SPAN``.
        WeatherProviderError: hours are missing and a provider failed (a refused key first).
    """
    start, end = to_utc(start).ceil("h"), to_utc(end).floor("h")
    if end < start:
        raise InputDataError(
            f"end_date {end.isoformat()} is before start_date {start.isoformat()}; swap them"
        )
    if end - start > MAX_SERIES_SPAN:
        raise InputDataError(
            f"window of {(end - start).days} days is too long; ask for at most {MAX_SERIES_SPAN.days} days "
            "(the CLI `energy-forecast weather fetch` backfills longer periods)"
        )
    index = hourly_index(start, end)
    # Providers need coordinates; a site registered by an import has none until POST /location/.
    observed = [StoredObservations(store)]
    sources = chain.around(first=observed) if site.has_coordinates else FallbackChain(observed)
    result = sources.fetch(site, index)
    fetched = (result.sources != OBSERVED) & ~result.missing & (index < to_utc(now).floor("h"))
    written = 0
    if fetched.any():
        written = store.write_temperature(
            site.site_id, make_series(index[fetched], result.values[fetched], "temperature")
        )
    if result.missing.any() and result.failures:
        raise most_useful_failure(result.failures)
    return TemperatureSeries(site, result, written)


@dataclass
class Backfill:
    hours: int = 0
    written: int = 0
    missing: int = 0
    sources: Counter[str] = field(default_factory=Counter)


def backfill_temperature(
    store: SeriesStore,
    chain: FallbackChain,
    site: Site,
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    now: pd.Timestamp,
    chunk: timedelta = timedelta(days=31),
) -> Backfill:
    """``temperature_series`` over ``[start, end]`` in month-sized requests: only missing hours are
    fetched, so an interrupted backfill resumes where it stopped when run again.

    Raises:
        WeatherProviderError: as ``temperature_series``; chunks before the failing one stay stored.
    """
    start, end = to_utc(start).ceil("h"), to_utc(end).floor("h")
    if end < start:
        raise InputDataError(f"end {end.isoformat()} is before start {start.isoformat()}; swap them")
    total = Backfill()
    lo = start
    while lo <= end:
        hi = min(lo + chunk - pd.Timedelta(hours=1), end)
        part = temperature_series(store, chain, site, lo, hi, now=now)
        total.hours += len(part.temperature.index)
        total.written += part.written
        total.missing += int(part.temperature.missing.sum())
        total.sources.update(part.temperature.counts())
        lo = hi + pd.Timedelta(hours=1)
    return total


class ProviderTemperature:
    """Provider temperatures for a meter's site, the hook ``forecast_meter`` calls for future hours.

    Answers None when the site has no registered coordinates or no provider is configured, so the
    forecast keeps its stored-observation and climatology path.
    """

    def __init__(self, store: SeriesStore, chain: FallbackChain) -> None:
        self._store = store
        self._chain = chain

    def applies(self, site_id: str) -> bool:
        """Whether a provider may answer for this site (so a forecast can change without new data)."""
        site = self._store.get_site(site_id) if self._chain.providers else None
        return site is not None and site.has_coordinates

    def __call__(self, site_id: str, index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray] | None:
        if not self._chain.providers or len(index) == 0:
            return None
        site = self._store.get_site(site_id)
        if site is None or not site.has_coordinates:
            return None
        result = self._chain.fetch(site, index)
        return result.values, result.sources
