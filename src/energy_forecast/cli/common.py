"""What every command group shares: settings read once, the opened store, one-line domain errors.

Command modules import this one and never each other, so a new group is one new module.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from energy_forecast.domain.meters import Meter
from energy_forecast.errors import ConfigurationError, EnergyForecastError
from energy_forecast.home import prepare_home
from energy_forecast.logging import configure_logging, get_logger
from energy_forecast.settings import Settings, load_settings
from energy_forecast.storage.base import SeriesStore

log = get_logger("energy_forecast.cli")


def settings(*, file_log: bool = True) -> Settings:
    """Settings from the environment, with logging configured; a bad setting is exit 2 and one line."""
    try:
        loaded = load_settings()
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    configure_logging(
        level=loaded.log_level,
        logs_dir=loaded.logs_dir if file_log else None,
        json_console=loaded.log_json,
    )
    prepare_home(loaded)
    warn_unknown_variables()
    return loaded


def warn_unknown_variables() -> None:
    """Name each ``EF_*`` variable no setting reads (a typo would otherwise run on defaults)."""
    import os

    from energy_forecast.config_feedback import unknown_variable_lines
    from energy_forecast.settings import Settings as SettingsModel

    for line in unknown_variable_lines(os.environ, SettingsModel):
        typer.echo(f"warning: {line}", err=True)
        log.debug("unknown_setting", warning=line)


def build_series_store(settings: Settings) -> SeriesStore:
    # Imported on use: the bootstrap pulls in XGBoost, whose OpenMP runtime must load after main()
    # has set OMP_WAIT_POLICY.
    from energy_forecast.bootstrap import build_series_store as build

    return build(settings)


def fail(exc: EnergyForecastError) -> typer.Exit:
    """A domain error as one line on stderr; raise the returned exit (code 1)."""
    typer.echo(f"error: {exc.message}", err=True)
    return typer.Exit(1)


@contextmanager
def opened_store(settings: Settings) -> Iterator[SeriesStore]:
    """The configured store, closed afterwards; a domain error inside becomes one line and exit 1."""
    store = build_series_store(settings)
    try:
        yield store
    except EnergyForecastError as exc:
        raise fail(exc) from None
    finally:
        store.close()


def chosen_meters(store: SeriesStore, meter_ids: list[str] | None, all_meters: bool) -> list[Meter]:
    """The registry entries a command was asked for (``--all`` or ``--meter-id``), in that order."""
    registry = {m.meter_id: m for m in store.list_meters()}
    unknown = [m for m in meter_ids or [] if m not in registry]
    if unknown:
        typer.echo(f"error: unknown meter id(s): {', '.join(unknown)}", err=True)
        raise typer.Exit(2)
    return list(registry.values()) if all_meters else [registry[m] for m in dict.fromkeys(meter_ids or [])]


def require_meters(meter_ids: list[str] | None, all_meters: bool) -> None:
    """Exit 2 unless ``--all`` or at least one ``--meter-id`` was given."""
    if not all_meters and not meter_ids:
        typer.echo("error: give --all or one or more --meter-id", err=True)
        raise typer.Exit(2)
