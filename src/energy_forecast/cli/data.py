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
    stamps: Annotated[
        str,
        typer.Option(
            "--stamps",
            help="whether a reading's stamp marks the start or the end of its interval: start|end",
        ),
    ] = "start",
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="IANA zone of stamps without offset, for meters whose meters.csv row names none "
            "(e.g. Europe/Rome); default: the meter's or site's zone, else UTC",
        ),
    ] = None,
) -> None:
    """Validate and import readings and temperatures from a directory; a bad file writes nothing.

    Readings may come at any interval that divides an hour (summed or averaged into hours by the
    meter's unit) or as register reads (meters.csv reading_kind=register). With `serve` running on
    this home the files go to it (``POST /import/``), else straight in.
    """
    with connected(settings()) as home:
        content = import_data(home, data_dir, stamps=stamps, timezone=timezone)
    log.info(
        "import_finished",
        files=content["files"],
        meters=content["meters_registered"],
        readings=content["total_readings"],
        temperatures=sum(content["temperature_written"].values()),
        empty_rows_skipped=content["empty_rows_skipped"],
        warnings=len(content.get("warnings") or []),
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
    typer.echo(
        f"{'meter_id':<22} {'type':<12} {'site':<14} {'unit':<8} {'reads':<14} "
        f"{'readings':>9} {'gaps':>6}  first .. last"
    )
    for row in rows:
        every = f"{row['interval_minutes']}-min" if row["interval_minutes"] else "?"
        reads = every if row["reading_kind"] == "interval" else f"{every} register"
        typer.echo(
            f"{row['meter_id']:<22} {row['meter_type']:<12} {row['site_id']:<14} {row['unit'][:8]:<8} "
            f"{reads:<14} {row['reading_count']:>9} {row['gap_hours']:>6}  "
            f"{row['first_timestamp']} .. {row['last_timestamp']}"
        )
