"""``energy-forecast import`` and ``meters``: bring readings in and show what is there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from energy_forecast.cli.common import log, opened_store, settings
from energy_forecast.domain.meters import MeterType


def import_(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="directory with meters.csv, electricity.csv, ...")
    ],
) -> None:
    """Validate and import readings and temperatures from a directory; a bad file writes nothing."""
    from energy_forecast.services.ingestion import import_directory

    with opened_store(settings()) as store:
        report = import_directory(store, data_dir)
    log.info(
        "import_finished",
        files=report.files,
        meters=report.meters_registered,
        readings=report.total_readings,
        temperatures=sum(report.temperature_written.values()),
        empty_rows_skipped=report.empty_rows_skipped,
    )
    typer.echo(
        f"imported {report.total_readings} readings of {len(report.readings_written)} meters and "
        f"{sum(report.temperature_written.values())} temperatures of {len(report.temperature_written)} "
        f"sites from {', '.join(report.files)} ({report.empty_rows_skipped} empty rows skipped)"
    )


def meters(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    meter_type: Annotated[MeterType | None, typer.Option("--type")] = None,
) -> None:
    """Print the meter registry with reading counts, first/last reading and gap hours."""
    from energy_forecast.services.meters import meter_summaries

    with opened_store(settings(file_log=False)) as store:
        rows = [s.to_dict() for s in meter_summaries(store, meter_type)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'meter_id':<22} {'type':<12} {'site':<14} {'readings':>9} {'gaps':>6}  first .. last")
    for row in rows:
        typer.echo(
            f"{row['meter_id']:<22} {row['meter_type']:<12} {row['site_id']:<14} "
            f"{row['reading_count']:>9} {row['gap_hours']:>6}  "
            f"{row['first_timestamp']} .. {row['last_timestamp']}"
        )
