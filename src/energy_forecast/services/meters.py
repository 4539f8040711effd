"""The meter registry joined with what the store holds for each meter."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import holidays as holidays_lib

from energy_forecast.domain.meters import Meter, MeterType, validate_meter_id
from energy_forecast.domain.series import SeriesStats
from energy_forecast.domain.sites import Site
from energy_forecast.errors import ConflictError, NoDataFoundError
from energy_forecast.services.groups import refuse_group_ids
from energy_forecast.services.sites import register_sites
from energy_forecast.storage.base import SeriesStore


@dataclass(frozen=True, slots=True)
class MeterSummary:
    meter: Meter
    stats: SeriesStats | None

    def to_dict(self) -> dict[str, Any]:
        stats = self.stats
        return {
            "meter_id": self.meter.meter_id,
            "meter_type": self.meter.meter_type.value,
            "site_id": self.meter.site_id,
            "unit": self.meter.unit,
            "timezone": self.meter.timezone,
            "latitude": self.meter.latitude,
            "longitude": self.meter.longitude,
            "reading_kind": self.meter.reading_kind.value,
            "interval_minutes": self.meter.interval_minutes,
            "first_timestamp": stats.first.isoformat() if stats and stats.first is not None else None,
            "last_timestamp": stats.last.isoformat() if stats and stats.last is not None else None,
            "reading_count": stats.count if stats else 0,
            "gap_hours": stats.gap_hours if stats else 0,
        }


def registered_meter(store: SeriesStore, meter_id: str, meter_type: MeterType) -> Meter:
    """The registry entry of a meter of this type.

    Raises:
        NoDataFoundError: the meter is unknown or of another type (one message for training,
            evaluation and backtests, saying what to check).
    """
    validate_meter_id(meter_id)
    meter = store.get_meter(meter_id)
    kind = MeterType(meter_type).value
    if meter is None:
        raise NoDataFoundError(
            f"no {kind} meter {meter_id!r} is registered; import it first: `energy-forecast import "
            f"--data-dir DIR` with a meters.csv row for it and its readings in {kind}.csv, or POST its "
            f"readings to /meters/{kind}/{meter_id}/readings",
            meter_id=meter_id,
        )
    if meter.meter_type != MeterType(meter_type):
        other = meter.meter_type.value
        article = "an" if other[:1] in "aeiou" else "a"
        raise NoDataFoundError(
            f"no {kind} meter {meter_id!r}: it is registered as {article} {other} meter; ask for "
            f"meter_type {other!r}",
            meter_id=meter_id,
        )
    return meter


def meter_summaries(store: SeriesStore, meter_type: MeterType | None = None) -> list[MeterSummary]:
    """Every registered meter (optionally of one type) with count, first/last reading and gap hours."""
    stats = store.readings_stats(meter_type)
    return [
        MeterSummary(meter, stats.get(meter.meter_id))
        for meter in store.list_meters()
        if meter_type is None or meter.meter_type == meter_type
    ]


def meter_calendar(store: SeriesStore, meter: Meter) -> tuple[str, str | None]:
    """(IANA time zone, holiday country) for a meter's calendar features.

    The meter's own zone wins when it was set (anything but the UTC default); otherwise its site's.
    The holiday country is the site's (``POST /location/``); a site without one takes the country
    of that zone, so an import that only names zones still gets its public holidays.
    """
    site = store.get_site(meter.site_id)
    timezone = meter.timezone
    if timezone == "UTC" and site is not None and site.timezone:
        timezone = site.timezone
    return timezone, site_country(site, timezone)


def site_country(site: Site | None, timezone: str) -> str | None:
    """The site's holiday country, else the country of ``timezone`` (None for UTC and the like)."""
    if site is not None and site.country:
        return site.country
    return zone_country(timezone)


@lru_cache(maxsize=1)
def _zone_countries() -> dict[str, str]:
    """IANA zone -> ISO 3166 country from the time-zone database's ``zone.tab`` (package tzdata).

    Only countries the holidays library has a calendar for are kept.
    """
    supported = set(holidays_lib.list_supported_countries())
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    table: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if line.startswith("#") or len(fields) < 3:
            continue
        if fields[0] in supported:
            table[fields[2]] = fields[0]
    return table


def zone_country(timezone: str) -> str | None:
    """The country whose zone ``timezone`` is (``Europe/London`` -> ``GB``), if it has holidays."""
    return _zone_countries().get(timezone)


def put_meter(store: SeriesStore, meter: Meter) -> bool:
    """Create or replace one registry entry (a ``meters.csv`` row); True when it was created.

    Raises:
        ConflictError: the meter is registered with another type (its readings live there), or
            its id is a group's.
    """
    existing = store.get_meter(meter.meter_id)
    if existing is None:
        refuse_group_ids(store, [meter.meter_id])
    if existing is not None and existing.meter_type != meter.meter_type:
        raise ConflictError(
            f"meter {meter.meter_id!r} is registered as {existing.meter_type.value}, not "
            f"{meter.meter_type.value}; use another meter id"
        )
    if existing != meter:
        store.upsert_meters([meter])
    register_sites(store, [meter.site_id])
    return existing is None
