"""``energy-forecast export``: a meter's stored hourly readings, as CSV or JSON, to stdout or a file.

The same rows as ``GET /meters/{type}/{id}/readings`` (``services.readings_export``); the CSV is
what ``POST /meters/{type}/{id}/readings`` and ``import`` read back in.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from energy_forecast.cli.common import connected, settings
from energy_forecast.domain.meters import MeterType


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


def export(
    meter_id: Annotated[str, typer.Option("--meter-id", help="meter to export")],
    meter_type: Annotated[MeterType, typer.Option("--meter-type", help="electricity or water")],
    start: Annotated[str | None, typer.Option(help="first hour, ISO-8601 (UTC when no offset)")] = None,
    end: Annotated[str | None, typer.Option(help="end (exclusive), ISO-8601")] = None,
    output_format: Annotated[ExportFormat, typer.Option("--format", help="csv or json")] = ExportFormat.CSV,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file to write (default: stdout)")
    ] = None,
) -> None:
    """Write a meter's stored hourly readings (UTC, hour start) as CSV or JSON."""
    from energy_forecast.services.readings_export import parse_bound, readings_csv, stored_readings

    with connected(settings(file_log=False)) as home:
        if home.service is not None:
            params = {k: v for k, v in {"start": start, "end": end}.items() if v is not None}
            response = home.service.request(
                "GET",
                f"/meters/{meter_type.value}/{meter_id}/readings",
                params={**params, "format": output_format.value},
            )
            text = response.text
        else:
            rows = stored_readings(
                home.local_store(), meter_type, meter_id, parse_bound(start, "start"), parse_bound(end, "end")
            )
            text = readings_csv(rows) if output_format is ExportFormat.CSV else json.dumps(rows)
    if output_format is ExportFormat.JSON:
        text = json.dumps(json.loads(text)) + "\n"  # the same bytes whichever way it came
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}", err=True)
