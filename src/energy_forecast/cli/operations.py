"""What several commands do, each one way, against the home's running service or its store.

``import`` and ``demo`` load data, ``train`` and ``demo`` train: the switch between the running
service (HTTP) and the store opened here (``cli.common.Connection``) lives here once, so the commands
differ only in what they print.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from energy_forecast.cli.common import Connection, chosen_meters, utc_stamps
from energy_forecast.cli.remote import ServiceClient, ServiceError
from energy_forecast.cli.uploads import upload_directory
from energy_forecast.domain.meters import MeterType
from energy_forecast.settings import Settings
from energy_forecast.storage.base import SeriesStore


def import_data(
    home: Connection, data_dir: Path, *, stamps: str = "start", timezone: str | None = None
) -> dict[str, Any]:
    """Import ``data_dir`` (``POST /import/`` or ``import_directory``); the report as JSON-ready dict."""
    if home.service is not None:
        return upload_directory(home.service, data_dir, stamps=stamps, timezone=timezone)
    from energy_forecast.services.ingestion import import_directory

    report = import_directory(home.local_store(), data_dir, stamps=stamps, timezone=timezone)
    return {**asdict(report), "total_readings": report.total_readings}


def train_batch(
    home: Connection,
    meter_ids: list[str] | None,
    all_meters: bool,
    meter_type: MeterType | None = None,
) -> dict[str, Any] | None:
    """Train through the service's queue, or a queue and workers of this command; the final batch
    record (None when no meter matches)."""
    if home.service is not None:
        service = home.service
        request: dict[str, object] = {"meter_ids": None if all_meters else meter_ids}
        if meter_type is not None:
            request["meter_type"] = meter_type.value
        accepted = service.post("/trainmodel/batch/", json=request)
        return follow_batch(lambda: service.get(f"/trainmodel/batch/{accepted['batch_id']}"))
    from energy_forecast.bootstrap import build_model_store
    from energy_forecast.services.fleet_model import global_member_jobs

    store, settings = home.local_store(), home.settings
    chosen = chosen_meters(store, meter_ids, all_meters)
    chosen = [m for m in chosen if meter_type is None or m.meter_type == meter_type]
    if not chosen:
        return None
    with command_runtime(settings, store) as runtime:
        # First the global ensemble member of each type involved (once per type, on all its
        # meters), then the meters, so every meter's ensemble weights are learnt with it.
        fresh_enough = None if all_meters else (build_model_store(settings), settings.schedule.model_max_age)
        members = global_member_jobs(
            store.list_meters(), {m.meter_type for m in chosen}, unless_fresh=fresh_enough
        )
        if members:
            first_id, _ = runtime.queue.enqueue_batch(members)
            first = follow_batch(
                lambda: runtime.queue.read_batch(first_id), f"training {len(members)} global model(s)"
            )
            for task in first["tasks"]:
                if task["status"] != "SUCCESS":  # the meters still train, on their own
                    typer.echo(f"global model not trained: {task['message']}", err=True)
        batch_id, _ = runtime.queue.enqueue_batch([(m.meter_id, m.meter_type) for m in chosen])
        return follow_batch(lambda: runtime.queue.read_batch(batch_id))


@contextmanager
def command_runtime(settings: Settings, store: SeriesStore) -> Iterator[Any]:
    """The task runtime of a command run without a service: with ``REDIS_URL`` its tasks go to the
    shared queue (any worker runs them), otherwise to a private Redis and in-process workers."""
    from energy_forecast.bootstrap import start_task_runtime

    with tempfile.TemporaryDirectory(prefix="ef-redis-") as redis_dir:
        runtime = start_task_runtime(
            settings,
            series_store=store,
            run_workers=settings.redis_url is None or None,
            embedded_dir=Path(redis_dir),
        )
        try:
            yield runtime
        finally:
            runtime.close()


def service_forecasts(
    service: ServiceClient, meter_ids: list[str] | None, all_meters: bool, *, days: int, write: bool
) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    """``forecast``'s rows (with their points) and the meters' units from the running service:
    ``POST /forecast/`` from each meter's last reading, or with ``write`` a publication
    (``POST /forecasts/publish``) read back per meter."""
    from energy_forecast.storage.forecast_layout import model_version_tag

    registry = {row["meter_id"]: row for row in service.get("/meters/")}
    unknown = [m for m in meter_ids or [] if m not in registry]
    if unknown:
        raise ServiceError(f"unknown meter id(s): {', '.join(unknown)}", 404)
    chosen = list(registry.values()) if all_meters else [registry[m] for m in dict.fromkeys(meter_ids or [])]
    units = {m["meter_id"]: m.get("unit") for m in chosen}
    rows: list[dict[str, Any]] = []
    if write:
        issued_after = datetime.now(UTC).isoformat()
        body = {"days": days, **({} if all_meters else {"meter_ids": [m["meter_id"] for m in chosen]})}
        batch = service.post("/forecasts/publish", json=body)
        typer.echo(
            f"publishing {batch['meters']} meters in {batch['tasks']} tasks (batch {batch['batch_id']})",
            err=True,
        )
        while not (state := service.get(f"/forecasts/publish/{batch['batch_id']}"))["done"]:
            time.sleep(0.2)
        for meter in chosen:
            try:
                latest = service.get(f"/forecasts/{meter['meter_type']}/{meter['meter_id']}/latest")
            except ServiceError as exc:
                rows.append({"meter_id": meter["meter_id"], "error": exc.message})
                continue
            if latest["issued_at"] < issued_after:
                rows.append({"meter_id": meter["meter_id"], "error": f"not published ({state['state']})"})
                continue
            keys = ("meter_id", "meter_type", "model_version", "first_hour", "last_hour", "substituted")
            rows.append(
                {
                    **{k: latest[k] for k in keys},
                    "points_written": len(latest["points"]),
                    "points": _points(latest["points"]),
                }
            )
        return [utc_stamps(row) for row in rows], units
    for meter in chosen:
        if meter["last_timestamp"] is None:
            rows.append(
                {"meter_id": meter["meter_id"], "error": "no readings to forecast from; import them first"}
            )
            continue
        last = datetime.fromisoformat(meter["last_timestamp"])
        try:
            answer = _forecast_from(service, "meter_id", meter["meter_id"], meter["meter_type"], last, days)
        except ServiceError as exc:
            rows.append({"meter_id": meter["meter_id"], "error": exc.message})
            continue
        tag = model_version_tag(answer["model_version"])
        rows.append(_answer_row(meter["meter_id"], meter["meter_type"], tag, answer))
    return [utc_stamps(row) for row in rows], units


def _forecast_from(
    service: ServiceClient, key: str, target: str, meter_type: str, last: datetime, days: int
) -> dict[str, Any]:
    """``POST /forecast/`` for ``days`` from the hour after ``last``, as a local run forecasts."""
    body = {
        key: target,
        "meter_type": meter_type,
        "start_date": (last + timedelta(hours=1)).isoformat(),
        "end_date": (last + timedelta(days=days)).isoformat(),
    }
    return service.post("/forecast/", json=body)


def _answer_row(target: str, meter_type: str, model_version: str, answer: dict[str, Any]) -> dict[str, Any]:
    """One printed row of a ``/forecast/`` answer, in the shape a local run prints."""
    points = [p for p in answer["forecast_data"] if p["type"] == "forecast"]
    return {
        "meter_id": target,
        "meter_type": meter_type,
        "model_version": model_version,
        "points_written": 0,
        "first_hour": points[0]["datetime"] if points else None,
        "last_hour": points[-1]["datetime"] if points else None,
        "substituted": answer["substituted"],
        **({"members": answer["members"]} if "members" in answer else {}),
        "points": _points(points),
    }


def service_group_forecasts(
    service: ServiceClient, group_ids: list[str], *, days: int, write: bool
) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    """``forecast --group``'s rows from the running service: ``POST /forecast/`` with each
    ``group_id``, from the earliest member's last reading (as publication starts a group)."""
    if write:
        raise ServiceError(
            "--group --write needs the store, which the running service holds; its scheduled "
            "publication writes every group's total (drop --write to print the forecast)",
            409,
        )
    registry = {row["meter_id"]: row for row in service.get("/meters/")}
    rows: list[dict[str, Any]] = []
    units: dict[str, str | None] = {}
    for group_id in dict.fromkeys(group_ids):
        try:
            group = service.get(f"/groups/{group_id}")
            lasts = [
                datetime.fromisoformat(registry[m]["last_timestamp"])
                for m in group["members"]
                if m in registry and registry[m]["last_timestamp"] is not None
            ]
            if not lasts:
                raise ServiceError(
                    f"group {group_id!r}: none of its meters has readings to forecast from", 404
                )
            answer = _forecast_from(service, "group_id", group_id, group["meter_type"], min(lasts), days)
        except ServiceError as exc:
            rows.append({"meter_id": group_id, "error": exc.message})
            continue
        found = {registry[m].get("unit") for m in group["members"] if m in registry}
        units[group_id] = found.pop() if len(found) == 1 else None
        rows.append(_answer_row(group_id, group["meter_type"], "group", answer))
    return [utc_stamps(row) for row in rows], units


def _points(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The service's points in the shape a local run prints: ``+00:00`` stamps, value, band, quantiles."""
    return [
        {
            "timestamp": datetime.fromisoformat(p["datetime"]).isoformat(),
            "value": p["value"],
            "lower": p.get("lower"),
            "upper": p.get("upper"),
            **(p.get("quantiles") or {}),
        }
        for p in points
    ]


def follow_batch(read_batch: Callable[[], dict[str, Any] | None], label: str | None = None) -> dict[str, Any]:
    """Show a progress bar over a training batch until every task has ended; the final record."""
    batch = read_batch()
    assert batch is not None
    total = len(batch["tasks"])
    label = label or f"training {total} meters"
    from energy_forecast.cli.terminal import bar_owns_terminal

    with (
        typer.progressbar(length=100 * total, label=label) as bar,
        bar_owns_terminal(bar),
    ):
        shown = 0
        while True:
            done_units = batch["progress"] * total
            bar.update(done_units - shown)
            shown = done_units
            if batch["done"]:
                return batch
            time.sleep(0.5)
            batch = read_batch()
            assert batch is not None


def print_import(content: dict[str, Any]) -> None:
    """One line: what an import wrote."""
    temperatures = content["temperature_written"]
    typer.echo(
        f"imported {content['total_readings']} readings of {len(content['readings_written'])} meters and "
        f"{sum(temperatures.values())} temperatures of {len(temperatures)} sites from "
        f"{', '.join(content['files'])} ({content['empty_rows_skipped']} empty rows skipped)"
    )
    warnings = content.get("warnings") or []
    if warnings:
        from energy_forecast.services.import_warnings import ImportWarning, summary_lines

        typer.echo(f"{len(warnings)} warning(s):")
        for line in summary_lines(
            [w if isinstance(w, ImportWarning) else ImportWarning(**w) for w in warnings]
        ):
            typer.echo(f"  - {line}")


def print_batch(batch: dict[str, Any]) -> int:
    """One line a task and a total; the number of tasks that did not succeed."""
    failed = 0
    for task in batch["tasks"]:
        if task["status"] != "SUCCESS":
            failed += 1
        typer.echo(
            f"{task['details'].get('meter_id', task['task_id']):<24} {task['status']:<10} {task['message']}"
        )
    typer.echo(f"{len(batch['tasks']) - failed} of {len(batch['tasks'])} trained")
    return failed
