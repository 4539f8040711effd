"""Private Redis and InfluxDB servers that a fault test may kill and restart at will.

Each listens on 127.0.0.1 on free ports, keeps its data in the test's directory and is stopped by
the test (context managers), so killing one disturbs no other test or engineer. Restarting reuses
the same ports and data directory, as an operator's restart would.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx
import pytest
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed (scripts/servers.sh installs it)")
    return path


def _wait(ready: object, process: subprocess.Popen[bytes], name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode} before answering")
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not answer within {timeout}s")


class _Server:
    name = "server"
    dir: Path

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        log = open(self.dir / f"{self.name}.log", "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(self._command(), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        _wait(self._ready, self.process, self.name)

    def kill(self) -> None:
        """SIGKILL: a crash, no chance to flush anything."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: the server's own clean shutdown."""
        self._signal(signal.SIGTERM)

    def _signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def __enter__(self) -> _Server:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()


class PrivateRedis(_Server):
    """redis-server with an append-only file fsynced on every write: a crash loses no acknowledged write."""

    name = "redis"

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.binary = _need("redis-server")
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def _command(self) -> list[str]:
        return [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--daemonize", "no",
            "--loglevel", "warning",
        ]  # fmt: skip

    def _ready(self) -> bool:
        try:
            with redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False


class PrivateInflux(_Server):
    """influxd 1.x with HTTP and RPC on free ports and its data under ``directory``."""

    name = "influxd"

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.binary = _need("influxd")
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.rpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = self.dir / "influxdb.conf"
        self.config.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{self.rpc_port}"
[meta]
  dir = "{self.dir}/meta"
  logging-enabled = false
[data]
  dir = "{self.dir}/data"
  wal-dir = "{self.dir}/wal"
  wal-fsync-delay = "0s"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:{self.port}"
  auth-enabled = false
  log-enabled = false
[logging]
  level = "warn"
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
""",
            encoding="utf-8",
        )

    def _command(self) -> list[str]:
        return [self.binary, "run", "-config", str(self.config)]

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ping", timeout=1).status_code == 204
        except httpx.HTTPError:
            return False
