"""What every command group shares: settings read once, the opened store, one-line domain errors.

Command modules import this one and never each other, so a new group is one new module.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from energy_forecast.cli.remote import ServiceClient, ServiceRecord, cli_api_key, read_record
from energy_forecast.domain.meters import Meter
from energy_forecast.errors import ConfigurationError, EnergyForecastError, StorageError
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
    """The configured store, closed afterwards; a domain error inside becomes one line and exit 1.

    A DuckDB file held by another process (a ``train`` still running, a service of an older
    version) is one line naming that process, never DuckDB's lock error.
    """
    try:
        store = build_series_store(settings)
    except StorageError as exc:
        raise fail(locked_store_error(exc) or exc) from None
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


LOCK_HOLDER = re.compile(r"Conflicting lock is held in .*?\(PID (\d+)\)", re.S)


def lock_holder(exc: StorageError) -> str | None:
    """For DuckDB's "Could not set lock" error, the holder (pid and command line); None otherwise."""
    if "Could not set lock" not in exc.message:
        return None
    match = LOCK_HOLDER.search(exc.message)
    if match is None:
        return "another process"
    holder = f"process {match.group(1)}"
    try:
        command = Path(f"/proc/{match.group(1)}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return holder
    return f"{holder} ({command.strip()[:120]})"


def locked_store_error(exc: StorageError) -> StorageError | None:
    """A clear message for DuckDB's "Could not set lock" error (None for any other failure)."""
    holder = lock_holder(exc)
    if holder is None:
        return None
    return StorageError(
        f"the store of this home is in use by {holder}; only one process at a time can open it. "
        "Wait for that command to finish or stop it; a running `energy-forecast serve` of this "
        "version is found and used by every command"
    )


@dataclass
class Connection:
    """Where a command's work goes: the home's running service (``service``) or its store (``store``).

    Exactly one is set. Commands keep one code path and switch only on this.
    """

    settings: Settings
    service: ServiceClient | None = None
    store: SeriesStore | None = None

    @property
    def remote(self) -> bool:
        return self.service is not None

    def local_store(self) -> SeriesStore:
        assert self.store is not None
        return self.store


# A service that has opened the store but not yet its socket records itself within seconds.
RECORD_WAIT_S = 30.0


@contextmanager
def connected(settings: Settings) -> Iterator[Connection]:
    """The running service of this home when there is one, else the store opened here.

    Domain errors (the service's included) become one line and exit 1.
    """
    record = read_record(settings)
    store = None
    if record is None:
        try:
            store = build_series_store(settings)
        except StorageError as exc:
            holder = lock_holder(exc)
            if holder is None:
                raise fail(exc) from None
            # A service that is starting holds the file before it records itself: wait for it.
            record = _wait_for_record(settings) if " serve" in holder else None
            if record is None:
                raise fail(locked_store_error(exc) or exc) from None
    if store is not None:
        try:
            yield Connection(settings, store=store)
        except EnergyForecastError as exc:
            raise fail(exc) from None
        finally:
            store.close()
        return
    assert record is not None
    try:
        client = ServiceClient(record, cli_api_key(settings))
    except EnergyForecastError as exc:
        raise fail(exc) from None
    try:
        client.wait_until_up()
        log.debug("using_running_service", url=record.url, pid=record.pid)
        yield Connection(settings, service=client)
    except EnergyForecastError as exc:
        raise fail(exc) from None
    finally:
        client.close()


def _wait_for_record(settings: Settings) -> ServiceRecord | None:
    deadline = time.monotonic() + RECORD_WAIT_S
    while time.monotonic() < deadline:
        record = read_record(settings)
        if record is not None:
            return record
        time.sleep(0.5)
    return None


STAMP_FIELDS = ("first_timestamp", "last_timestamp", "first_hour", "last_hour")


def utc_stamps(row: dict[str, Any]) -> dict[str, Any]:
    """A row from the service with its stamps written as a local run writes them (``+00:00``), so
    a command prints the same whether or not a service answered it."""
    from datetime import datetime

    return {
        key: datetime.fromisoformat(value).isoformat() if key in STAMP_FIELDS and value else value
        for key, value in row.items()
    }
