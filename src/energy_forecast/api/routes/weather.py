"""Locations (sites) and site temperature: series from store and providers, data-quality report."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query, Request

from energy_forecast.api import current_site
from energy_forecast.api.deps import SeriesStoreDep, WeatherDep
from energy_forecast.api.schemas import IsoDateTime
from energy_forecast.api.weather_schemas import (
    LocationCreate,
    LocationPublic,
    OutOfBoundsPublic,
    StretchPublic,
    TemperaturePointPublic,
    TemperatureReportPublic,
    TemperatureSeriesPublic,
    TemperatureSeriesRequest,
    TemperatureValidationPublic,
)
from energy_forecast.domain.meters import SiteId
from energy_forecast.domain.sites import Site
from energy_forecast.services.sites import location_target
from energy_forecast.services.temperature_quality import Stretch, TemperatureReport, validate_temperature
from energy_forecast.services.weather import resolve_site, temperature_series

router = APIRouter(tags=["weather"])


def _location(site: Site, meter_ids: list[str], created: bool | None = None) -> LocationPublic:
    return LocationPublic(
        site_id=site.site_id,
        latitude=site.latitude,
        longitude=site.longitude,
        city=site.city,
        timezone=site.timezone,
        country=site.country,
        meter_ids=meter_ids,
        created=created,
    )


@router.post("/location/", response_model=LocationPublic, response_model_exclude_none=False)
def create_location(request: Request, body: LocationCreate, store: SeriesStoreDep) -> LocationPublic:
    """Create or update a site and make it the current location (the default of temperature calls).

    Without site_id: the site the city's slug names, else a registered site at (within a few km)
    these coordinates or in this city, else the only registered site, else a new one. Names its meters.
    """
    site_id, old = location_target(store, body.site_id, body.city, body.latitude, body.longitude)
    site = Site(
        site_id=site_id,
        latitude=body.latitude,
        longitude=body.longitude,
        city=body.city,
        timezone=body.timezone or (old.timezone if old else "UTC"),
        country=body.country or (old.country if old else None),
    )
    store.upsert_site(site)
    current_site.remember(request, site.site_id)
    meters = [m.meter_id for m in store.list_meters() if m.site_id == site.site_id]
    return _location(site, meters, created=old is None)


@router.get("/location/", response_model=list[LocationPublic])
def list_locations(store: SeriesStoreDep) -> list[LocationPublic]:
    """Every registered site with the meters standing there."""
    meters = store.list_meters()
    return [
        _location(site, [m.meter_id for m in meters if m.site_id == site.site_id])
        for site in store.list_sites()
    ]


@router.post("/temperature/series/", response_model=TemperatureSeriesPublic)
def series(
    request: Request, body: TemperatureSeriesRequest, store: SeriesStoreDep, chain: WeatherDep
) -> TemperatureSeriesPublic:
    """Hourly temperature from the store, then the providers; each value says its source.

    Without site_id: the current location (the last ``POST /location/``), else the only site.
    """
    site = resolve_site(store, body.site_id, default=current_site.recall(request))
    result = temperature_series(
        store, chain, site, pd.Timestamp(body.start_date), pd.Timestamp(body.end_date), now=_now()
    )
    temp = result.temperature
    labels = temp.index.strftime("%Y-%m-%dT%H:%M:%SZ")
    notes = [f.message for f in temp.failures]
    missing = int(temp.missing.sum())
    if missing:
        notes.append(
            f"{missing} hours have no value: beyond every provider's reach (forecasts end ~16 days out)"
        )
    return TemperatureSeriesPublic(
        site_id=site.site_id,
        start_date=body.start_date,
        end_date=body.end_date,
        hours=len(temp.index),
        missing_hours=missing,
        source_counts=temp.counts(),
        written_to_store=result.written,
        data=[
            TemperaturePointPublic(
                datetime=label,
                temperature=None if source is None else round(float(value), 3),
                source=source,
            )
            for label, value, source in zip(labels, temp.values, temp.sources, strict=True)
        ],
        notes=notes,
    )


def _stretch(s: Stretch) -> StretchPublic:
    return StretchPublic(
        start=s.start.to_pydatetime(), end=s.end.to_pydatetime(), hours=s.hours, value=s.value
    )


def _report(r: TemperatureReport) -> TemperatureReportPublic:
    longest = r.longest_gap
    return TemperatureReportPublic(
        site_id=r.site_id,
        window_start=r.window_start.to_pydatetime(),
        window_end=r.window_end.to_pydatetime(),
        expected_hours=r.expected_hours,
        observed_hours=r.observed_hours,
        coverage_percent=r.coverage_percent,
        gap_hours=r.gap_hours,
        gap_count=len(r.gaps),
        longest_gap=_stretch(longest) if longest else None,
        gaps=[_stretch(g) for g in r.gaps[:50]],
        out_of_bounds=[
            OutOfBoundsPublic(datetime=t.to_pydatetime(), temperature=v) for t, v in r.out_of_bounds
        ],
        flatlines=[_stretch(f) for f in r.flatlines],
        last_observation=r.last_observation.to_pydatetime() if r.last_observation is not None else None,
        hours_since_last=r.hours_since_last,
        provider_comparison=r.comparison,
    )


@router.get("/temperature/validate/", response_model=TemperatureValidationPublic)
def validate(
    store: SeriesStoreDep,
    chain: WeatherDep,
    days: Annotated[
        int, Query(ge=1, le=3660, description="window length, ending at the last stored hour")
    ] = 30,
    site_id: Annotated[
        SiteId | None, Query(description="one site; all sites with temperature if omitted")
    ] = None,
    end_date: Annotated[
        IsoDateTime | None, Query(description="end the window here instead (exclusive)")
    ] = None,
) -> TemperatureValidationPublic:
    """Coverage, gaps, out-of-bounds values, flat lines and the difference to a provider."""
    end = None
    if end_date is not None:
        end = pd.Timestamp(end_date if end_date.tzinfo else end_date.replace(tzinfo=UTC))
    reports = validate_temperature(store, chain, days=days, now=_now(), site_id=site_id, end=end)
    return TemperatureValidationPublic(days=days, reports=[_report(r) for r in reports])


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")
