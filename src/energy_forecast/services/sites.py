"""Sites that come with the data, and which site a seed-shaped ``POST /location/`` means.

An import registers every site its meters stand at and its temperatures belong to, without
coordinates, so ``GET /location/`` lists what was imported and ``/temperature/series/`` answers
from the observations. Existing sites are never touched by an import.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from energy_forecast.domain.sites import Site
from energy_forecast.errors import InputDataError
from energy_forecast.storage.base import SeriesStore


def register_sites(store: SeriesStore, site_ids: Iterable[str]) -> list[str]:
    """Register the sites not yet known, without coordinates; returns the ids added."""
    wanted = list(dict.fromkeys(site_ids))
    if not wanted:
        return []
    known = {s.site_id for s in store.list_sites()}
    added = [site_id for site_id in wanted if site_id not in known]
    for site_id in added:
        store.upsert_site(Site(site_id))
    return added


def city_slug(city: str) -> str:
    """``"New York"`` -> ``new_york``: the site id a city names when no id is given.

    Raises:
        InputDataError: the city has no letter or digit to make an id from.
    """
    slug = re.sub(r"[^a-z0-9]+", "_", city.lower()).strip("_")[:64]
    if not slug:
        raise InputDataError("city has no letters or digits to derive a site_id from; give site_id")
    return slug


# A location this close to a registered site's coordinates means that site (the same campus or
# building given with a few decimals more or less), not a new one.
MATCH_DISTANCE_KM = 5.0


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def matching_site(sites: Iterable[Site], latitude: float, longitude: float, city: str) -> Site | None:
    """The registered site a location means: the nearest within ``MATCH_DISTANCE_KM``, else one of
    the same city (compared without case or punctuation); None when none matches."""
    sites = list(sites)
    near = [
        (distance_km(latitude, longitude, site.latitude, site.longitude), site.site_id, site)
        for site in sites
        if site.latitude is not None and site.longitude is not None
    ]
    close = sorted((d, sid, site) for d, sid, site in near if d <= MATCH_DISTANCE_KM)
    if close:
        return close[0][2]
    slug = city_slug(city)
    same_city = [site for site in sites if site.city is not None and _city_key(site.city) == slug]
    return same_city[0] if len(same_city) == 1 else None


def _city_key(city: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", city.lower()).strip("_")[:64]


def location_target(
    store: SeriesStore,
    site_id: str | None,
    city: str,
    latitude: float | None = None,
    longitude: float | None = None,
) -> tuple[str, Site | None]:
    """The site a ``POST /location/`` writes, and its stored record (None: it will be created).

    With ``site_id`` that site. Without one, the seed's body: the site the city's slug names if
    it exists, else a registered site at (about) these coordinates or in this city, else the only
    registered site (an install of one site means that one), else a new site named by the slug.
    """
    if site_id is not None:
        return site_id, store.get_site(site_id)
    slug = city_slug(city)
    named = store.get_site(slug)
    if named is not None:
        return slug, named
    sites = store.list_sites()
    if latitude is not None and longitude is not None:
        matched = matching_site(sites, latitude, longitude, city)
        if matched is not None:
            return matched.site_id, matched
    if len(sites) == 1:
        return sites[0].site_id, sites[0]
    return slug, None
