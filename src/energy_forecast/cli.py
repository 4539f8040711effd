"""The ``energy-forecast`` command line: thin commands over services, settings read once here."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.errors import ConfigurationError, EnergyForecastError
from energy_forecast.logging import configure_logging, get_logger
from energy_forecast.settings import Settings, load_settings
from energy_forecast.storage.base import SeriesStore

app = typer.Typer(
    name="energy-forecast",
    help="Hourly electricity and water forecasts per meter.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
log = get_logger("energy_forecast.cli")


def _settings(*, file_log: bool = True) -> Settings:
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        typer.echo(f"configuration error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    configure_logging(
        level=settings.log_level,
        logs_dir=settings.logs_dir if file_log else None,
        json_console=settings.log_json,
    )
    return settings


def build_series_store(settings: Settings) -> SeriesStore:
    # Imported on use: the bootstrap pulls in XGBoost, whose OpenMP runtime must load after main()
    # has set OMP_WAIT_POLICY.
    from energy_forecast.bootstrap import build_series_store as build

    return build(settings)


def _fail(exc: EnergyForecastError) -> typer.Exit:
    typer.echo(f"error: {exc.message}", err=True)
    return typer.Exit(1)


@contextmanager
def opened_store(settings: Settings) -> Iterator[SeriesStore]:
    """The configured store, closed afterwards; a domain error inside becomes one line and exit 1."""
    store = build_series_store(settings)
    try:
        yield store
    except EnergyForecastError as exc:
        raise _fail(exc) from None
    finally:
        store.close()


def _chosen_meters(store: SeriesStore, meter_ids: list[str] | None, all_meters: bool) -> list[Meter]:
    """The registry entries a command was asked for (``--all`` or ``--meter-id``), in that order."""
    registry = {m.meter_id: m for m in store.list_meters()}
    unknown = [m for m in meter_ids or [] if m not in registry]
    if unknown:
        typer.echo(f"error: unknown meter id(s): {', '.join(unknown)}", err=True)
        raise typer.Exit(2)
    return list(registry.values()) if all_meters else [registry[m] for m in dict.fromkeys(meter_ids or [])]


@app.command("import")
def import_(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="directory with meters.csv, electricity.csv, ...")
    ],
) -> None:
    """Validate and import readings and temperatures from a directory; a bad file writes nothing."""
    from energy_forecast.services.ingestion import import_directory

    with opened_store(_settings()) as store:
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


@app.command("meters")
def meters(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    meter_type: Annotated[MeterType | None, typer.Option("--type")] = None,
) -> None:
    """Print the meter registry with reading counts, first/last reading and gap hours."""
    from energy_forecast.services.meters import meter_summaries

    with opened_store(_settings(file_log=False)) as store:
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


@app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (default EF_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default EF_PORT)")] = None,
    proxy_headers: Annotated[
        bool,
        typer.Option(
            help="take the client address and scheme from X-Forwarded-For/-Proto sent by a trusted "
            "proxy (uvicorn's default: on)"
        ),
    ] = True,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="comma-separated proxy addresses or networks trusted for those headers, '*' for any "
            "(default: uvicorn's, $FORWARDED_ALLOW_IPS or 127.0.0.1,::1)"
        ),
    ] = None,
) -> None:
    """Run the HTTP API (and, without REDIS_URL, an embedded Redis and in-process workers).

    Behind a reverse proxy the rate limit keys anonymous clients by address, so the proxy's
    forwarded address must be believed: trust the proxy with ``--forwarded-allow-ips``.
    """
    import uvicorn

    from energy_forecast.api.app import create_app

    settings = _settings()
    if host is not None or port is not None:
        settings = settings.model_copy(update={"host": host or settings.host, "port": port or settings.port})
    settings.home.mkdir(parents=True, exist_ok=True)
    log.info(
        "serve",
        host=settings.host,
        port=settings.port,
        storage=settings.storage_backend,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )


@app.command("worker")
def worker(
    processes: Annotated[int, typer.Option(min=1, max=64, help="worker processes")] = 2,
    threads: Annotated[int, typer.Option(min=1, max=64, help="threads per process")] = 1,
) -> None:
    """Run Dramatiq worker processes against REDIS_URL (scale out by starting more of these)."""
    from functools import partial

    from energy_forecast.bootstrap import worker_process_bootstrap
    from energy_forecast.tasks.worker import run_worker_processes

    settings = _settings()
    if settings.redis_url is None:
        typer.echo("error: REDIS_URL is not set; separate workers need a shared Redis", err=True)
        raise typer.Exit(2)
    if settings.storage_backend == "duckdb":
        typer.echo(
            "error: the embedded DuckDB store can be opened by one process only; set INFLUX_URL for "
            "separate workers, or let `energy-forecast serve` run workers in-process",
            err=True,
        )
        raise typer.Exit(2)
    log.info("workers_starting", processes=processes, threads=threads)
    raise typer.Exit(
        run_worker_processes(
            partial(worker_process_bootstrap, settings), processes=processes, threads=threads
        )
    )


@app.command("train")
def train(
    meter_id: Annotated[list[str] | None, typer.Option("--meter-id", help="meter(s) to train")] = None,
    all_meters: Annotated[bool, typer.Option("--all", help="train every registered meter")] = False,
    meter_type: Annotated[MeterType | None, typer.Option("--type", help="only meters of this type")] = None,
    threads: Annotated[int, typer.Option(min=1, max=64, help="in-process worker threads")] = 2,
) -> None:
    """Train meters through the task queue and show a progress bar until every task ends."""
    import tempfile
    import time

    from energy_forecast.bootstrap import start_task_runtime

    if not all_meters and not meter_id:
        typer.echo("error: give --all or one or more --meter-id", err=True)
        raise typer.Exit(2)
    settings = _settings().model_copy(update={"worker_threads": threads})
    with opened_store(settings) as store:
        chosen = _chosen_meters(store, meter_id, all_meters)
        chosen = [m for m in chosen if meter_type is None or m.meter_type == meter_type]
        if not chosen:
            typer.echo("nothing to train", err=True)
            raise typer.Exit(1)
        with tempfile.TemporaryDirectory(prefix="ef-redis-") as redis_dir:
            # With REDIS_URL the tasks go to the shared queue; otherwise a private Redis for this command.
            runtime = start_task_runtime(
                settings,
                series_store=store,
                run_workers=settings.redis_url is None or None,
                embedded_dir=Path(redis_dir),
            )
            try:
                batch_id, task_ids = runtime.queue.enqueue_batch([(m.meter_id, m.meter_type) for m in chosen])
                with typer.progressbar(
                    length=100 * len(task_ids), label=f"training {len(task_ids)} meters"
                ) as bar:
                    shown = 0
                    while True:
                        batch = runtime.queue.read_batch(batch_id)
                        assert batch is not None
                        done_units = batch["progress"] * len(task_ids)
                        bar.update(done_units - shown)
                        shown = done_units
                        if batch["done"]:
                            break
                        time.sleep(0.5)
            finally:
                runtime.close()
    failed = 0
    for task in batch["tasks"]:
        if task["status"] != "SUCCESS":
            failed += 1
        typer.echo(
            f"{task['details'].get('meter_id', task['task_id']):<24} {task['status']:<10} {task['message']}"
        )
    typer.echo(f"{len(task_ids) - failed} of {len(task_ids)} trained")
    raise typer.Exit(1 if failed else 0)


@app.command("backtest")
def backtest(
    meter_id: Annotated[str, typer.Option("--meter-id", help="meter to backtest")],
    meter_type: Annotated[MeterType, typer.Option("--meter-type", help="electricity or water")],
    horizon_hours: Annotated[int, typer.Option("--horizon-hours", min=1, max=168)] = 24,
    days: Annotated[int, typer.Option("--days", min=1, max=365, help="daily origins (last N days)")] = 28,
    as_json: Annotated[bool, typer.Option("--json", help="print exactly one JSON object")] = False,
) -> None:
    """Rolling-origin backtest over the last N days: the model against seasonal-naive baselines."""
    from energy_forecast.services.evaluation import backtest_meter

    with opened_store(_settings(file_log=False)) as store:
        result = backtest_meter(
            store, meter_id=meter_id, meter_type=meter_type, horizon_hours=horizon_hours, days=days
        )
    if as_json:
        # stdout carries the JSON object only; logs go to stderr (configure_logging).
        typer.echo(json.dumps(result, allow_nan=False))
        return
    summary = result["summary"]
    typer.echo(f"{summary['meter_id']}: {len(result['records'])} forecast hours, {summary['note']}")
    for name, metrics in [("model", summary["model"]), *summary["baselines"].items()]:
        typer.echo(f"{name:<10} CV(RMSE) {metrics['cv_rmse_percent']}  NMBE {metrics['nmbe_percent']}")
    best, ratio = summary["best_baseline"], summary["cv_rmse_ratio_to_best_baseline"]
    typer.echo(f"ratio to best baseline ({best}): {ratio}")


from energy_forecast.cli_weather import weather_app  # noqa: E402  (it reuses the helpers above)

app.add_typer(weather_app, name="weather")


@app.command("forecast")
def forecast_command(
    meter_id: Annotated[list[str] | None, typer.Option("--meter-id", help="meter(s) to forecast")] = None,
    all_meters: Annotated[bool, typer.Option("--all", help="every registered meter")] = False,
    days: Annotated[int, typer.Option(min=1, max=31, help="days after each meter's last reading")] = 7,
    write: Annotated[bool, typer.Option("--write", help="upsert into the store")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Forecast meters from their last reading; with --write, store the forecasts for Grafana."""
    from energy_forecast.bootstrap import build_model_store
    from energy_forecast.services.forecast_export import export_forecast
    from energy_forecast.services.forecasting import ModelCache

    if not all_meters and not meter_id:
        typer.echo("error: give --all or one or more --meter-id", err=True)
        raise typer.Exit(2)
    settings = _settings(file_log=False)
    models, cache = build_model_store(settings), ModelCache()
    rows, failed = [], 0
    with opened_store(settings) as store:
        if all_meters and write:  # the fleet: chunk tasks that workers run (cli_schedule.py)
            from energy_forecast.cli_schedule import publish_via_tasks

            chosen = _chosen_meters(store, None, True)
            raise typer.Exit(
                publish_via_tasks(settings, store, chosen, days=days, chunk_size=50, as_json=as_json)
            )
        for meter in _chosen_meters(store, meter_id, all_meters):
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


apikey_app = typer.Typer(help="Create, list and revoke API keys (stored hashed under EF_HOME/config).")
app.add_typer(apikey_app, name="apikey")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option("--name", help="who or what uses the key")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="read and/or write (write implies read); default read")
    ] = None,
) -> None:
    """Create a key and print it once; only its SHA-256 digest is stored."""
    from energy_forecast.services.apikeys import ApiKeyStore

    settings = _settings(file_log=False)
    try:
        record, secret = ApiKeyStore(settings.api_keys_path).create(name, scope or ["read"])
    except EnergyForecastError as exc:
        raise _fail(exc) from None
    log.info("apikey_created", key_id=record.key_id, name=record.name, scopes=list(record.scopes))
    typer.echo(secret)
    typer.echo(
        f"key {record.key_id} ({', '.join(record.scopes)}) created; this is the only time it is shown. "
        "Send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'.",
        err=True,
    )


@apikey_app.command("list")
def apikey_list(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List keys (ids, names, scopes, created and revoked times; never the keys)."""
    from energy_forecast.services.apikeys import ApiKeyStore

    settings = _settings(file_log=False)
    try:
        rows = [k.public() for k in ApiKeyStore(settings.api_keys_path).list_keys()]
    except EnergyForecastError as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'key_id':<10} {'name':<24} {'scopes':<12} {'created_at':<26} revoked_at")
    for row in rows:
        typer.echo(
            f"{row['key_id']:<10} {row['name']:<24} {','.join(row['scopes']):<12} "
            f"{row['created_at']:<26} {row['revoked_at'] or '-'}"
        )


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument(help="the key id shown by `apikey list`")]) -> None:
    """Revoke a key; running API processes refuse it from their next request."""
    from energy_forecast.services.apikeys import ApiKeyStore

    settings = _settings(file_log=False)
    try:
        record = ApiKeyStore(settings.api_keys_path).revoke(key_id)
    except EnergyForecastError as exc:
        raise _fail(exc) from None
    log.info("apikey_revoked", key_id=record.key_id)
    typer.echo(f"key {record.key_id} ({record.name}) revoked at {record.revoked_at}")


def main() -> None:
    # OpenMP runtimes (XGBoost's, scikit-learn's) spin-wait between parallel regions by default.
    # With several fits or runtimes sharing two cores that spinning made each fit up to 30x slower
    # (bench/fleet.py, 31 meters on two worker processes: 217 s before, 26 s after). The runtime reads the
    # variable when it loads, so it is set here, before any command imports XGBoost; worker
    # processes inherit it.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        app()
    except EnergyForecastError as exc:  # pragma: no cover - last resort for errors outside commands
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
