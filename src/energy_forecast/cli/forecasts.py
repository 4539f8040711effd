"""``energy-forecast forecast``: forecasts from each meter's last reading, optionally stored.

The whole fleet with ``--all --write`` is published as chunk tasks that workers run.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated

import typer

from energy_forecast.cli import forecast_output as output
from energy_forecast.cli.common import chosen_meters, connected, require_meters, settings
from energy_forecast.cli.operations import command_runtime, service_forecasts, service_group_forecasts
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.errors import EnergyForecastError
from energy_forecast.settings import Settings
from energy_forecast.storage.base import ModelStore, SeriesStore

if TYPE_CHECKING:
    from energy_forecast.services.forecast_cache import ModelCache
    from energy_forecast.tasks.publications import PublicationIndex


def forecast(
    meter_id: Annotated[list[str] | None, typer.Option("--meter-id", help="meter(s) to forecast")] = None,
    all_meters: Annotated[bool, typer.Option("--all", help="every registered meter")] = False,
    group_id: Annotated[
        list[str] | None, typer.Option("--group", help="group(s) whose total to forecast (members summed)")
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=31, help="days after each meter's last reading")] = 7,
    write: Annotated[bool, typer.Option("--write", help="upsert into the store")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print each meter's points as JSON")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print every point as CSV")] = False,
) -> None:
    """Forecast meters from their last reading and print them; with --write, also store them for Grafana.

    Prints a table (timestamp, value, 80 % band, source) by default, ``--json`` the points of each
    meter, ``--csv`` one CSV of every point. ``--group`` forecasts a group's total from its earliest
    member's last reading, with the quantiles of the sum (as ``POST /forecast/`` with a ``group_id``).
    """
    from energy_forecast.bootstrap import build_model_store
    from energy_forecast.services.forecast_cache import ModelCache
    from energy_forecast.services.forecast_export import export_forecast

    if not group_id:
        require_meters(meter_id, all_meters)
    elif meter_id or all_meters:
        typer.echo("error: give --group, or --meter-id/--all, not both", err=True)
        raise typer.Exit(2)
    if as_json and as_csv:
        typer.echo("error: give --json or --csv, not both", err=True)
        raise typer.Exit(2)
    chosen_settings = settings(file_log=False)
    rows: list[dict[str, object]] = []
    units: dict[str, str | None] = {}
    shown = {"as_json": as_json, "as_csv": as_csv, "write": write}
    with connected(chosen_settings) as home:
        if home.service is not None:  # the running service computes (and with --write, publishes)
            if group_id:
                rows, units = service_group_forecasts(home.service, group_id, days=days, write=write)
            else:
                rows, units = service_forecasts(home.service, meter_id, all_meters, days=days, write=write)
            for row in rows:
                if "error" not in row:
                    row["points"] = [{**p, "source": output.source_of(row)} for p in row["points"]]
            raise typer.Exit(_print(rows, units, **shown))
        store = home.local_store()
        models = build_model_store(chosen_settings)
        cache = ModelCache(levels=chosen_settings.forecast_quantiles)
        if group_id:
            rows, units = _local_groups(store, models, group_id, days=days, write=write, cache=cache)
            raise typer.Exit(_print(rows, units, **shown))
        if all_meters and write:  # the fleet: chunk tasks that workers run
            chosen = chosen_meters(store, None, True)
            raise typer.Exit(
                publish_via_tasks(chosen_settings, store, chosen, days=days, chunk_size=50, as_json=as_json)
            )
        for meter in chosen_meters(store, meter_id, all_meters):
            units[meter.meter_id] = meter.unit
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
                row = result.to_dict()
                rows.append({**row, "points": output.points_of(result.frame, output.source_of(row))})
            except EnergyForecastError as exc:
                rows.append({"meter_id": meter.meter_id, "error": exc.message})
    raise typer.Exit(_print(rows, units, **shown))


def _local_groups(
    store: SeriesStore, models: ModelStore, group_ids: list[str], *, days: int, write: bool, cache: ModelCache
) -> tuple[list[dict[str, object]], dict[str, str | None]]:
    """``forecast --group`` without a running service: each group's total, as publication makes it."""
    from energy_forecast.services.group_publication import export_group
    from energy_forecast.services.groups import get_group

    rows: list[dict[str, object]] = []
    units: dict[str, str | None] = {}
    meters = {m.meter_id: m for m in store.list_meters()}
    for group_id in dict.fromkeys(group_ids):
        try:
            members = get_group(store, group_id).members
            published, frame = export_group(store, models, group_id, days=days, cache=cache, write=write)
        except EnergyForecastError as exc:
            rows.append({"meter_id": group_id, "error": exc.message})
            continue
        found = {meters[m].unit for m in members if m in meters}
        units[group_id] = found.pop() if len(found) == 1 else None
        keys = ("meter_id", "meter_type", "model_version", "points_written", "first_hour", "last_hour")
        row = {
            **{k: getattr(published, k) for k in keys},
            "substituted": published.substituted,
            "members": len(members),
        }
        rows.append({**row, "points": output.points_of(frame, output.source_of(row))})
    return rows, units


def _print(
    rows: list[dict[str, object]],
    units: dict[str, str | None],
    *,
    as_json: bool,
    as_csv: bool,
    write: bool,
) -> int:
    """The forecasts as a table, JSON or CSV, whether this process or the running service made them;
    the command's exit code (1 when a row is an error)."""
    failed = sum(1 for row in rows if "error" in row)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    elif as_csv:
        typer.echo(output.csv_text(rows), nl=False)
        for row in rows:
            if "error" in row:
                typer.echo(f"error: {row['meter_id']}: {row['error']}", err=True)
    else:
        typer.echo(output.table(rows, units))
    if write and not as_json:
        stored = sum(int(row.get("points_written") or 0) for row in rows)  # type: ignore[call-overload]
        typer.echo(f"{stored} points stored for {len(rows) - failed} meters", err=True)
    return 1 if failed else 0


def publish_via_tasks(
    settings: Settings, store: SeriesStore, meters: list[Meter], *, days: int, chunk_size: int, as_json: bool
) -> int:
    """Publish ``meters`` as chunk tasks (workers write the ``forecast`` measurement); exit code.

    With ``REDIS_URL`` the tasks go to the shared queue and any worker runs them; without it a
    private Redis and in-process workers run them here.
    """
    from energy_forecast.tasks.publications import PublicationIndex
    from energy_forecast.tasks.queue import batch_state

    pairs = [(m.meter_id, m.meter_type) for m in meters]
    with command_runtime(settings, store) as runtime:
        batch_id, task_ids = runtime.queue.enqueue_publication(pairs, days=days, chunk_size=chunk_size)
        typer.echo(f"publishing {len(pairs)} meters in {len(task_ids)} tasks (batch {batch_id})", err=True)
        while True:
            batch = runtime.queue.read_batch(batch_id)
            assert batch is not None
            if batch["done"]:
                break
            time.sleep(0.2)
        index = PublicationIndex(runtime.queue.client)
        rows = [_row(index, meter_id, meter_type, batch_id) for meter_id, meter_type in pairs]
    state = batch_state([t["status"] for t in batch["tasks"]])
    failed = sum(1 for row in rows if "error" in row)
    _print_rows(rows, as_json)
    if not as_json:
        typer.echo(f"{len(rows) - failed} of {len(rows)} meters published ({state})", err=True)
    return 0 if state == "SUCCESS" and not failed else 1


def _row(index: PublicationIndex, meter_id: str, meter_type: MeterType, batch_id: str) -> dict[str, object]:
    """This batch's result for one meter, in ``forecast --json``'s row shape."""
    error = index.last_error(meter_type, meter_id)
    latest = index.latest(meter_type, meter_id)
    if error is not None and (latest is None or error["issued_at"] > latest["issued_at"]):
        return {"meter_id": meter_id, "error": error["error"]}
    if latest is None:
        return {"meter_id": meter_id, "error": f"no result (batch {batch_id} did not publish it)"}
    keys = (
        "meter_id",
        "meter_type",
        "model_version",
        "points_written",
        "first_hour",
        "last_hour",
        "substituted",
    )
    return {key: latest.get(key) for key in keys}


def _print_rows(rows: list[dict[str, object]], as_json: bool) -> None:
    """One line a meter (or the JSON list): what was written, or why not."""
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        if "error" in row:
            typer.echo(f"{row['meter_id']:<24} error: {row['error']}")
        else:
            typer.echo(
                f"{row['meter_id']:<24} {row['model_version']:<12} {row['first_hour']} .. "
                f"{row['last_hour']}  {row['points_written']} points written"
            )
