"""A real ``energy-forecast serve`` on its embedded default, as a process a test may SIGKILL.

The home is a short temporary directory (the embedded Redis socket lives in it). The child gets a
clean environment: no ``REDIS_URL`` or ``INFLUX_URL``, so it starts the embedded redis-server and
the DuckDB store, exactly as a new user's first ``serve`` does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import psutil

from tests.faults.servers import free_port

REPO = Path(__file__).resolve().parents[2]


def short_home() -> Path:
    return Path(tempfile.mkdtemp(prefix="ef-"))


def redis_servers(home: Path) -> list[psutil.Process]:
    """Live redis-server processes working in ``home``'s Redis directory (Redis changes into it)."""
    directory = (home / "redis").resolve()
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if "redis-server" not in (process.info["name"] or ""):
                continue
            if process.status() != psutil.STATUS_ZOMBIE and Path(process.cwd()).resolve() == directory:
                found.append(process)
        except psutil.Error:
            continue
    return found


def child_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("EF_", "REDIS_", "INFLUX_", "OPENWEATHER"))
    }
    env.update(
        PYTHONPATH=str(REPO),
        EF_HOME=str(home),
        EF_WORKER_THREADS="2",
        EF_FIT_THREADS="1",
        OMP_WAIT_POLICY="PASSIVE",
        EF_WEATHER__PROVIDERS="[]",  # offline: training reads the store's temperatures only
        **extra,
    )
    return env


class Serve:
    """``python -m MODULE serve`` on a free port; ``kill()`` is a crash, ``stop()`` a normal exit."""

    def __init__(self, home: Path, *, module: str = "energy_forecast", **extra_env: str) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = [sys.executable, "-m", module, "serve", "--port", str(self.port)]
        self.env = child_env(home, **extra_env)
        self.log_path = home / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.client = httpx.Client(base_url=self.url, timeout=10)
        self.ready_s = 0.0

    def start(self, timeout: float = 90.0) -> None:
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if self.client.get("/health/live").status_code == 200:
                    self.ready_s = time.monotonic() - started
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"serve did not answer within {timeout}s: {self.log_tail()}")

    def batch(self, batch_id: str) -> dict[str, Any]:
        response = self.client.get(f"/trainmodel/batch/{batch_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs; the embedded redis-server, in its own session, lives on."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM: uvicorn's graceful shutdown; the lifespan stops workers, then Redis (exit -15)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> Serve:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()
        self.client.close()
