"""``energy-forecast serve`` and ``worker``: the long-running processes."""

from __future__ import annotations

import fcntl
import os
import re
from typing import Annotated, Any

import typer

from energy_forecast.cli.common import log, settings
from energy_forecast.cli.remote import read_record, remove_record, write_record
from energy_forecast.errors import StorageError
from energy_forecast.settings import Settings


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
            help="comma-separated addresses or networks of your proxies, trusted for those headers "
            "(default: uvicorn's, $FORWARDED_ALLOW_IPS or 127.0.0.1,::1); never '*', which lets any "
            "client pick its own address and so its own rate-limit bucket"
        ),
    ] = None,
) -> None:
    """Run the HTTP API (and, without REDIS_URL, an embedded Redis and in-process workers).

    Behind a reverse proxy the rate limit keys anonymous clients by address, so the proxy's
    forwarded address must be believed: trust the proxy with ``--forwarded-allow-ips``.
    """
    import uvicorn

    from energy_forecast.api.app import create_app

    chosen = settings()
    running = read_record(chosen)
    if running is not None:
        typer.echo(
            f"error: a service already runs on this home ({chosen.home}): {running.url}, pid {running.pid}; "
            "CLI commands use it as they are, or stop it first",
            err=True,
        )
        raise typer.Exit(1)
    holder = home_in_use(chosen)
    if holder is not None:
        typer.echo(f"error: {holder}", err=True)
        raise typer.Exit(1)
    if host is not None or port is not None:
        chosen = chosen.model_copy(update={"host": host or chosen.host, "port": port or chosen.port})
    chosen.home.mkdir(parents=True, exist_ok=True)
    log.info(
        "serve",
        host=chosen.host,
        port=chosen.port,
        storage=chosen.storage_backend,
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    if "*" in (forwarded_allow_ips or "").split(","):
        log.warning("forwarded_allow_ips_any", note="any client can pick its address and rate-limit bucket")
    umask = os.umask(0o077)  # every file the service creates is owner-only (see energy_forecast.home)
    try:
        config = uvicorn.Config(
            create_app(chosen),
            host=chosen.host,
            port=chosen.port,
            log_config=None,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=forwarded_allow_ips,
        )
        _recorded_server(uvicorn.Server, chosen)(config).run()
    finally:
        remove_record(chosen)
        os.umask(umask)


def _client_url(host: str, port: int) -> str:
    """The URL a CLI on this machine uses: a wildcard bind is reached through loopback."""
    if host in {"0.0.0.0", "", "::", "[::]"}:
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _recorded_server(server_class: type[Any], settings: Settings) -> type[Any]:
    """uvicorn's server that records itself under EF_HOME once it listens (see ``cli.remote``)."""

    class RecordedServer(server_class):  # type: ignore[misc, valid-type]
        async def startup(self, sockets: list[Any] | None = None) -> None:
            await super().startup(sockets)
            if self.started and not self.should_exit:
                record = write_record(settings, _client_url(settings.host, settings.port))
                log.info("service_recorded", url=record.url, pid=record.pid)

    return RecordedServer


def worker(
    processes: Annotated[int, typer.Option(min=1, max=64, help="worker processes")] = 2,
    threads: Annotated[int, typer.Option(min=1, max=64, help="threads per process")] = 1,
    queues: Annotated[
        str | None,
        typer.Option(
            help="task kinds this worker serves, comma-separated: training, evaluation, publication, "
            "housekeeping (default: EF_WORKER_QUEUES, else all)"
        ),
    ] = None,
) -> None:
    """Run Dramatiq worker processes against REDIS_URL (scale out by starting more of these)."""
    from functools import partial

    from energy_forecast.bootstrap import worker_process_bootstrap
    from energy_forecast.tasks.worker import run_worker_processes

    chosen = settings()
    if chosen.redis_url is None:
        typer.echo("error: REDIS_URL is not set; separate workers need a shared Redis", err=True)
        raise typer.Exit(2)
    if chosen.storage_backend == "duckdb":
        typer.echo(
            "error: the embedded DuckDB store can be opened by one process only; set INFLUX_URL for "
            "separate workers, or let `energy-forecast serve` run workers in-process",
            err=True,
        )
        raise typer.Exit(2)
    from energy_forecast.domain.queues import parse_queues

    try:
        served = parse_queues(queues) if queues is not None else chosen.worker_queues
    except ValueError as exc:
        typer.echo(f"error: --queues: {exc}", err=True)
        raise typer.Exit(2) from None
    log.info("workers_starting", processes=processes, threads=threads, queues=served or "all")
    umask = os.umask(0o077)  # as serve
    try:
        code = run_worker_processes(
            partial(worker_process_bootstrap, chosen), processes=processes, threads=threads, queues=served
        )
    finally:
        os.umask(umask)
    raise typer.Exit(code)


def home_in_use(chosen: Settings) -> str | None:
    """Why this home cannot be served now (another process serves it), in one line; None when free.

    Checked before the server starts, so a second ``serve`` on the same home says so in one line
    instead of failing inside the server's start-up with a traceback.
    """
    advice = "stop it first, or give this one another EF_HOME"
    lock_path = chosen.embedded_redis_dir / "embedded.lock"
    if chosen.redis_url is None and lock_path.exists():
        fd = os.open(lock_path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            return f"another energy-forecast process (pid {pid}) already serves {chosen.home}; {advice}"
        finally:
            os.close(fd)  # a shared lock taken here is released with the descriptor
    if chosen.storage_backend == "duckdb" and chosen.duckdb_path.exists():
        from energy_forecast.storage.duckdb_connection import DuckDBConnection

        try:
            DuckDBConnection(chosen.duckdb_path).close()
        except StorageError as exc:
            found = re.search(r"\(PID (\d+)\)", exc.message)
            pid = found.group(1) if found else "?"
            return f"another process (pid {pid}) holds {chosen.duckdb_path}; {advice}"
    return None
