"""The meter registry joined with what the store holds for each meter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.series import SeriesStats
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
            "first_timestamp": stats.first.isoformat() if stats and stats.first is not None else None,
            "last_timestamp": stats.last.isoformat() if stats and stats.last is not None else None,
            "reading_count": stats.count if stats else 0,
            "gap_hours": stats.gap_hours if stats else 0,
        }


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
    The holiday country always comes from the site (``POST /location/``); no site, no holidays.
    """
    site = store.get_site(meter.site_id)
    timezone = meter.timezone
    if timezone == "UTC" and site is not None and site.timezone:
        timezone = site.timezone
    return timezone, (site.country if site is not None else None)
