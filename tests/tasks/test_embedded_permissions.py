"""The embedded Redis is private: no TCP port, and its directory and socket are mode 0700."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

import redis

from energy_forecast.tasks.embedded import EmbeddedRedis


def test_the_embedded_redis_socket_and_directory_are_owner_only() -> None:
    # A short directory: pytest's tmp_path can exceed the unix-socket path limit.
    with tempfile.TemporaryDirectory(prefix="ef-") as tmp:
        home = Path(tmp)
        home.chmod(0o755)  # a permissive parent must not make the server reachable
        with EmbeddedRedis(home / "redis") as server:
            client = redis.Redis.from_url(server.url)
            port = client.config_get("port")["port"]
            socket_mode = stat.S_IMODE(server.socket_path.stat().st_mode)
            directory_mode = stat.S_IMODE(server.directory.stat().st_mode)
            client.close()

    assert port == "0"  # no TCP listener at all
    assert socket_mode == 0o700
    assert directory_mode == 0o700
