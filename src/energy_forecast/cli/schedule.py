"""``energy-forecast scheduler`` and ``schedule``: the scheduler process and the jobs' status."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from energy_forecast.cli.common import settings as cli_settings


def scheduler_command() -> None:
    """Run the scheduler against REDIS_URL: one of any number acts (leader lease), the rest wait."""
    import signal
    import threading

    from energy_forecast.bootstrap import build_model_store, build_series_store, start_task_runtime
    from energy_forecast.tasks.schedule_jobs import build_scheduler

    settings = cli_settings()
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
            store,
            models,
            runtime.queue,
            settings.schedule,
            task_retention=settings.task_retention,
            alerts=settings.alerts,
        )
        typer.echo(f"scheduler {scheduler.lease.who['host']}:{scheduler.lease.who['pid']} started", err=True)
        scheduler.run_until(stop)
    finally:
        store.close()
        runtime.close()


def schedule_command(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Each scheduled job: interval, last and next run, last outcome; and the leader."""
    import redis

    from energy_forecast.tasks.schedule_jobs import describe_schedule

    settings = cli_settings(file_log=False)
    url = settings.redis_url
    socket_path = settings.embedded_redis_dir / "redis.sock"
    if url is None:
        if not socket_path.exists():
            typer.echo("error: no REDIS_URL and no running `serve` (embedded Redis) under EF_HOME", err=True)
            raise typer.Exit(2)
        url = f"unix://{socket_path.resolve()}"
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        view = describe_schedule(client, settings.schedule, settings.alerts)
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
