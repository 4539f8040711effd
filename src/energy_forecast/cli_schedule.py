"""Commands for unattended operation: fleet publication as tasks, the scheduler and its status.

Registered by ``cli.py``; they reuse its settings and store helpers but no other command group.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.settings import Settings
from energy_forecast.storage.base import SeriesStore

if TYPE_CHECKING:
    from energy_forecast.tasks.publications import PublicationIndex


def publish_via_tasks(
    settings: Settings, store: SeriesStore, meters: list[Meter], *, days: int, chunk_size: int, as_json: bool
) -> int:
    """Publish ``meters`` as chunk tasks (workers write the ``forecast`` measurement); exit code.

    With ``REDIS_URL`` the tasks go to the shared queue and any worker runs them; without it a
    private Redis and in-process workers run them here.
    """
    from energy_forecast.bootstrap import start_task_runtime
    from energy_forecast.tasks.publications import PublicationIndex
    from energy_forecast.tasks.queue import batch_state

    pairs = [(m.meter_id, m.meter_type) for m in meters]
    with tempfile.TemporaryDirectory(prefix="ef-redis-") as redis_dir:
        runtime = start_task_runtime(
            settings,
            series_store=store,
            run_workers=settings.redis_url is None or None,
            embedded_dir=Path(redis_dir),
        )
        try:
            batch_id, task_ids = runtime.queue.enqueue_publication(pairs, days=days, chunk_size=chunk_size)
            typer.echo(
                f"publishing {len(pairs)} meters in {len(task_ids)} tasks (batch {batch_id})", err=True
            )
            while True:
                batch = runtime.queue.read_batch(batch_id)
                assert batch is not None
                if batch["done"]:
                    break
                time.sleep(0.2)
            index = PublicationIndex(runtime.queue.client)
            rows = [_row(index, meter_id, meter_type, batch_id) for meter_id, meter_type in pairs]
        finally:
            runtime.close()
    state = batch_state([t["status"] for t in batch["tasks"]])
    failed = sum(1 for row in rows if "error" in row)
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


def scheduler_command() -> None:
    """Run the scheduler against REDIS_URL: one of any number acts (leader lease), the rest wait."""
    import signal
    import threading

    from energy_forecast.bootstrap import build_model_store, build_series_store, start_task_runtime
    from energy_forecast.cli import _settings
    from energy_forecast.tasks.schedule_jobs import build_scheduler

    settings = _settings()
    if settings.redis_url is None:
        typer.echo(
            "error: REDIS_URL is not set; without a shared Redis the scheduler runs inside "
            "`energy-forecast serve`",
            err=True,
        )
        raise typer.Exit(2)
    if settings.storage_backend == "duckdb":
        typer.echo(
            "error: the embedded DuckDB store can be opened by one process only; set INFLUX_URL for a "
            "separate scheduler, or let `energy-forecast serve` run it",
            err=True,
        )
        raise typer.Exit(2)
    if not settings.schedule.enabled:
        typer.echo("error: EF_SCHEDULE__ENABLED is false", err=True)
        raise typer.Exit(2)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    runtime = start_task_runtime(settings, run_workers=False)
    store, models = build_series_store(settings), build_model_store(settings)
    try:
        scheduler = build_scheduler(
            store, models, runtime.queue, settings.schedule, task_retention=settings.task_retention
        )
        typer.echo(f"scheduler {scheduler.lease.who['host']}:{scheduler.lease.who['pid']} started", err=True)
        scheduler.run_until(stop)
    finally:
        store.close()
        runtime.close()


def schedule_command(as_json: bool = False) -> None:
    """Each scheduled job: interval, last and next run, last outcome; and the leader."""
    import redis

    from energy_forecast.cli import _settings
    from energy_forecast.tasks.schedule_jobs import describe_schedule

    settings = _settings(file_log=False)
    url = settings.redis_url
    socket_path = settings.embedded_redis_dir / "redis.sock"
    if url is None:
        if not socket_path.exists():
            typer.echo("error: no REDIS_URL and no running `serve` (embedded Redis) under EF_HOME", err=True)
            raise typer.Exit(2)
        url = f"unix://{socket_path.resolve()}"
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        view = describe_schedule(client, settings.schedule)
    except redis.RedisError as exc:
        typer.echo(f"error: cannot read the schedule from Redis ({exc})", err=True)
        raise typer.Exit(1) from None
    finally:
        client.close()
    if as_json:
        typer.echo(json.dumps(view, indent=2, default=str))
        return
    leader = view["leader"]
    who = f"{leader['host']} pid {leader['pid']}" if leader else "nobody (no scheduler holds the lease)"
    typer.echo(f"leader: {who}; tick {view['tick_seconds']:g} s; enabled: {view['enabled']}")
    typer.echo(f"{'job':<10} {'every':>9}  {'last run':<33} {'next run':<33} enqueued/skipped/failed")
    for job in view["jobs"]:
        counts = job["last_outcome"] or {}
        typer.echo(
            f"{job['name']:<10} {job['interval_seconds']:>8g}s  {job['last_run'] or '-':<33} "
            f"{job['next_run'] or '-':<33} {counts.get('enqueued', '-')}/{counts.get('skipped', '-')}/"
            f"{counts.get('failed', '-')}  {job['detail'] or ''}"
        )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app (called from cli.py)."""
    app.command("scheduler")(scheduler_command)

    @app.command("schedule")
    def schedule(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
        """Each scheduled job: interval, last and next run, last outcome; and the leader."""
        schedule_command(as_json)
