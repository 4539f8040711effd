"""``energy-forecast forecast``: forecasts from each meter's last reading, optionally stored."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from energy_forecast.cli.common import chosen_meters, opened_store, require_meters, settings
from energy_forecast.errors import EnergyForecastError


def forecast(
    meter_id: Annotated[list[str] | None, typer.Option("--meter-id", help="meter(s) to forecast")] = None,
    all_meters: Annotated[bool, typer.Option("--all", help="every registered meter")] = False,
    days: Annotated[int, typer.Option(min=1, max=31, help="days after each meter's last reading")] = 7,
    write: Annotated[bool, typer.Option("--write", help="upsert into the store")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Forecast meters from their last reading; with --write, store the forecasts for Grafana."""
    from energy_forecast.bootstrap import build_model_store
    from energy_forecast.services.forecast_cache import ModelCache
    from energy_forecast.services.forecast_export import export_forecast

    require_meters(meter_id, all_meters)
    chosen_settings = settings(file_log=False)
    models, cache = build_model_store(chosen_settings), ModelCache()
    rows, failed = [], 0
    with opened_store(chosen_settings) as store:
        for meter in chosen_meters(store, meter_id, all_meters):
            try:
                result = export_forecast(
                    store,
                    models,
                    meter_id=meter.meter_id,
                    meter_type=meter.meter_type,
                    days=days,
                    write=write,
                    cache=cache,
                )
                rows.append(result.to_dict())
            except EnergyForecastError as exc:
                failed += 1
                rows.append({"meter_id": meter.meter_id, "error": exc.message})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            if "error" in row:
                typer.echo(f"{row['meter_id']:<24} error: {row['error']}")
            else:
                typer.echo(
                    f"{row['meter_id']:<24} {row['model_version']:<12} {row['first_hour']} .. "
                    f"{row['last_hour']}  {row['points_written']} points written"
                )
    raise typer.Exit(1 if failed else 0)
