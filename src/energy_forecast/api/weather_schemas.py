"""Request and response models of locations (sites) and temperature endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from energy_forecast.api.schemas import Country, WindowEnd, WindowStart, ZoneName
from energy_forecast.domain.meters import SiteId


class LocationCreate(BaseModel):
    """The seed's ``POST /location/`` body, plus optional site id, IANA time zone and country."""

    model_config = {"extra": "forbid"}

    latitude: float = Field(
        ge=-90, le=90, allow_inf_nan=False, strict=True, description="degrees north, -90..90"
    )
    longitude: float = Field(
        ge=-180, le=180, allow_inf_nan=False, strict=True, description="degrees east, -180..180"
    )
    city: str = Field(min_length=1, max_length=100, pattern=r"^[^\n\r]+$")
    site_id: SiteId | None = Field(
        default=None,
        description="the site to write; without it the site a slug of the city names, else the only "
        "registered site, else a new site named by the slug",
    )
    timezone: ZoneName | None = Field(default=None, description="IANA name, e.g. Europe/Rome")
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2, e.g. IT")


class LocationPublic(BaseModel):
    site_id: str
    latitude: float | None = Field(description="null for a site registered by an import, until set")
    longitude: float | None
    city: str | None
    timezone: str
    country: str | None
    meter_ids: list[str] = Field(default_factory=list, description="meters registered at this site")
    created: bool | None = Field(default=None, description="POST only: false when an existing site changed")


class TemperatureSeriesRequest(BaseModel):
    """The seed's ``POST /temperature/series/`` body; a date-only ``end_date`` covers that whole day."""

    model_config = {"extra": "forbid"}

    # Bounded years: pandas cannot hold timestamps past 2262 (a 500 before).
    start_date: WindowStart
    end_date: WindowEnd
    site_id: SiteId | None = Field(default=None, description="needed when several sites are registered")


class TemperaturePointPublic(BaseModel):
    datetime: str = Field(description="ISO-8601 UTC hour")
    temperature: float | None = Field(description="°C; null where no source could answer")
    source: str | None = Field(description="observed (the store), openweathermap, open-meteo, or null")


class TemperatureSeriesPublic(BaseModel):
    site_id: str
    start_date: datetime
    end_date: datetime
    hours: int
    missing_hours: int
    source_counts: dict[str, int]
    written_to_store: int = Field(description="provider values for past hours saved for the next call")
    data: list[TemperaturePointPublic]
    notes: list[str] = Field(default_factory=list)


class StretchPublic(BaseModel):
    start: datetime
    end: datetime = Field(description="exclusive")
    hours: int
    value: float | None = None


class OutOfBoundsPublic(BaseModel):
    datetime: datetime
    temperature: float


class TemperatureReportPublic(BaseModel):
    site_id: str
    window_start: datetime
    window_end: datetime = Field(description="exclusive")
    expected_hours: int
    observed_hours: int
    coverage_percent: float
    gap_hours: int
    gap_count: int
    longest_gap: StretchPublic | None
    gaps: list[StretchPublic] = Field(description="at most 50, oldest first")
    out_of_bounds: list[OutOfBoundsPublic]
    flatlines: list[StretchPublic] = Field(description="runs of one value for 6 hours or more")
    last_observation: datetime | None
    hours_since_last: int | None
    provider_comparison: dict[str, Any]


class TemperatureValidationPublic(BaseModel):
    days: int
    reports: list[TemperatureReportPublic]
