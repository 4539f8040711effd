"""``energy-forecast import`` and ``meters``: bring readings in and show what is there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from energy_forecast.cli.common import connected, log, settings, utc_stamps
from energy_forecast.cli.operations import import_data, print_import
from energy_forecast.domain.meters import MeterType


def import_(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="directory with meters.csv, electricity.csv, ...")
    ],
) -> None:
    """Validate and import readings and temperatures from a directory; a bad file writes nothing.

    With `serve` running on this home the files go to it (``POST /import/``), else straight in.
    """
    with connected(settings()) as home:
        content = import_data(home, data_dir)
    log.info(
        "import_finished",
        files=content["files"],
        meters=content["meters_registered"],
        readings=content["total_readings"],
        temperatures=sum(content["temperature_written"].values()),
        empty_rows_skipped=content["empty_rows_skipped"],
    )
    print_import(content)


def meters(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    meter_type: Annotated[MeterType | None, typer.Option("--type")] = None,
) -> None:
    """Print the meter registry with reading counts, first/last reading and gap hours."""
    from energy_forecast.services.meters import meter_summaries

    with connected(settings(file_log=False)) as home:
        if home.service is not None:
            params = {"meter_type": meter_type.value} if meter_type else {}
            rows = [utc_stamps(row) for row in home.service.get("/meters/", params=params)]
        else:
            rows = [s.to_dict() for s in meter_summaries(home.local_store(), meter_type)]
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
