"""``energy-forecast weather ...``: register a site and backfill its temperatures from providers."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

from energy_forecast.cli.common import connected, settings

weather_app = typer.Typer(help="Sites and weather-provider temperatures.", no_args_is_help=True)


def _date(value: str, *, end: bool) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date or ISO timestamp (e.g. 2024-03-01)") from exc
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp + pd.Timedelta(hours=23) if end and len(value) == 10 else stamp


@weather_app.command("site")
def site(
    site_id: Annotated[str, typer.Argument(help="site id, as in meters.csv")],
    latitude: Annotated[float, typer.Option(min=-90, max=90)],
    longitude: Annotated[float, typer.Option(min=-180, max=180)],
    city: Annotated[str, typer.Option()],
    timezone: Annotated[str, typer.Option(help="IANA name")] = "UTC",
    country: Annotated[str | None, typer.Option(help="ISO 3166-1 alpha-2")] = None,
) -> None:
    """Create or update a site (the same as POST /location/)."""
    from energy_forecast.domain.sites import Site

    try:
        record = Site(site_id, latitude, longitude, city, timezone, country)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    with connected(settings(file_log=False)) as home:
        if home.service is not None:  # the running service writes it (POST /location/)
            body = {"site_id": record.site_id, "latitude": record.latitude, "longitude": record.longitude}
            body |= {"city": record.city, "timezone": record.timezone, "country": record.country}
            home.service.post("/location/", json={k: v for k, v in body.items() if v is not None})
        else:
            home.local_store().upsert_site(record)
    typer.echo(
        f"site {record.site_id}: {record.latitude}, {record.longitude} ({record.city}, {record.country})"
    )


@weather_app.command("fetch")
def fetch(
    site_id: Annotated[str, typer.Option("--site", help="a registered site (see `weather site`)")],
    start: Annotated[str, typer.Option("--start", help="first day or hour, UTC")],
    end: Annotated[str, typer.Option("--end", help="last day (whole day) or hour, UTC")],
) -> None:
    """Backfill a site's hourly temperatures: stored hours are kept, missing ones fetched and stored."""
    from energy_forecast.bootstrap import build_weather
    from energy_forecast.services.weather import backfill_temperature, resolve_site

    chosen = settings()
    first, last = _date(start, end=False), _date(end, end=True)
    with connected(chosen) as home:
        if home.service is not None:  # the running service fetches and stores (POST /temperature/series/)
            window = {"start_date": first.isoformat(), "end_date": last.isoformat()}
            answer = home.service.post("/temperature/series/", json={**window, "site_id": site_id})
            counts = answer["source_counts"]
            sources = ", ".join(f"{name} {count}" for name, count in sorted(counts.items())) or "none"
            typer.echo(
                f"{site_id} {first:%Y-%m-%d %H:00} .. {last:%Y-%m-%d %H:00}: {answer['hours']} hours "
                f"({sources}); {answer['written_to_store']} written to the store, "
                f"{answer['missing_hours']} without a value"
            )
            return
        weather = build_weather(chosen)
        try:
            store = home.local_store()
            result = backfill_temperature(
                store,
                weather.chain,
                resolve_site(store, site_id),
                first,
                last,
                now=pd.Timestamp.now(tz="UTC"),
            )
        finally:
            weather.close()
    sources = ", ".join(f"{name} {count}" for name, count in sorted(result.sources.items())) or "none"
    typer.echo(
        f"{site_id} {first:%Y-%m-%d %H:00} .. {last:%Y-%m-%d %H:00}: {result.hours} hours ({sources}); "
        f"{result.written} written to the store, {result.missing} without a value"
    )
