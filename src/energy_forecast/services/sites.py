"""Sites that come with the data, and which site a seed-shaped ``POST /location/`` means.

An import registers every site its meters stand at and its temperatures belong to, without
coordinates, so ``GET /location/`` lists what was imported and ``/temperature/series/`` answers
from the observations. Existing sites are never touched by an import.
"""

from __future__ import annotations

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


def location_target(store: SeriesStore, site_id: str | None, city: str) -> tuple[str, Site | None]:
    """The site a ``POST /location/`` writes, and its stored record (None: it will be created).

    With ``site_id`` that site. Without one, the seed's body: the site the city's slug names if
    it exists, else the only registered site (an install of one site means that one), else a new
    site named by the slug.
    """
    if site_id is not None:
        return site_id, store.get_site(site_id)
    slug = city_slug(city)
    named = store.get_site(slug)
    if named is not None:
        return slug, named
    sites = store.list_sites()
    if len(sites) == 1:
        return sites[0].site_id, sites[0]
    return slug, None
