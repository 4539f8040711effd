"""``energy-forecast demo``: the bundled sample data imported, trained and published in one go.

With ``serve`` running on this home everything goes through it and the dashboard shows the result at
once; without one the home is filled here and ``energy-forecast serve`` shows it afterwards. A home
that already holds meters is left alone unless ``--force`` is given.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from typing import Annotated

import typer

from energy_forecast.cli.common import Connection, connected, settings
from energy_forecast.cli.operations import (
    import_data,
    print_batch,
    print_import,
    service_forecasts,
    train_batch,
)
from energy_forecast.settings import Settings

SAMPLE_PACKAGE = "energy_forecast.sample_data"


def demo(
    force: Annotated[
        bool, typer.Option("--force", help="load into a home that already holds meters")
    ] = False,
    train: Annotated[bool, typer.Option(help="train and publish the sample meters after loading")] = True,
    days: Annotated[int, typer.Option(min=1, max=31, help="days of forecast to publish")] = 7,
) -> None:
    """Load the bundled sample data (6 real meters and their temperatures), train, publish forecasts."""
    chosen = settings()
    # One connection a step: a local training run closes the store it was handed when it ends.
    with connected(chosen) as home:
        existing = _meter_ids(home)
        if existing and not force:
            typer.echo(
                f"error: this home ({chosen.home}) already holds {len(existing)} meters; the demo loads into "
                "a fresh home. Point EF_HOME at an empty directory, or add --force to load the sample "
                "meters beside them",
                err=True,
            )
            raise typer.Exit(1)
        with as_file(files(SAMPLE_PACKAGE)) as sample_dir:
            print_import(import_data(home, sample_dir))
        sample_ids = sorted(set(_meter_ids(home)) - set(existing))
        url = home.service.record.url if home.service is not None else None
    failed = 0
    if train and sample_ids:
        with connected(chosen) as home:
            batch = train_batch(home, sample_ids, False)
        failed = print_batch(batch) if batch is not None else len(sample_ids)
        tasks = (batch or {}).get("tasks", [])
        trained = [t["details"]["meter_id"] for t in tasks if t["status"] == "SUCCESS"]
        if trained:
            with connected(chosen) as home:
                _publish(home, trained, days)
    _say_where(chosen, url)
    raise typer.Exit(1 if failed else 0)


def _meter_ids(home: Connection) -> list[str]:
    if home.service is not None:
        return [row["meter_id"] for row in home.service.get("/meters/")]
    return [m.meter_id for m in home.local_store().list_meters()]


def _publish(home: Connection, meter_ids: list[str], days: int) -> None:
    """Forecasts written to the store for the dashboard: a publication through the service, or here."""
    if home.service is not None:
        rows, _units = service_forecasts(home.service, meter_ids, False, days=days, write=True)
    else:
        from energy_forecast.bootstrap import build_model_store
        from energy_forecast.services.forecast_cache import ModelCache
        from energy_forecast.services.forecast_export import export_forecast

        store, models, cache = home.local_store(), build_model_store(home.settings), ModelCache()
        registry = {m.meter_id: m for m in store.list_meters()}
        rows = [
            export_forecast(
                store, models, meter_id=m, meter_type=registry[m].meter_type, days=days, cache=cache
            ).to_dict()
            for m in meter_ids
        ]
    published = [row for row in rows if "error" not in row]
    typer.echo(f"published {days}-day forecasts of {len(published)} of {len(rows)} meters")
    for row in rows:
        if "error" in row:
            typer.echo(f"{row['meter_id']:<24} error: {row['error']}")


def _say_where(settings: Settings, url: str | None) -> None:
    if url is not None:
        typer.echo(f"dashboard: {url}/")
        return
    host = "127.0.0.1" if settings.host in {"0.0.0.0", "::"} else settings.host
    typer.echo(
        f"the home {settings.home} is ready; start the service with `energy-forecast serve` and open "
        f"the dashboard at http://{host}:{settings.port}/"
    )
