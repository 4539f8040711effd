"""A SIGKILLed ``energy-forecast worker`` leaves no worker process behind taking tasks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the process tree from /proc")
def test_the_worker_processes_stop_when_their_parent_is_killed(
    flushed_redis_url: str, influx_url: str, influx_database: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "EF_HOME": str(tmp_path),
        "REDIS_URL": flushed_redis_url,
        "INFLUX_URL": influx_url,
        "INFLUX_BUCKET": influx_database,
        "EF_WEATHER__PROVIDERS": "[]",
    }
    log = (tmp_path / "worker.log").open("wb")
    parent = subprocess.Popen(
        [sys.executable, "-m", "energy_forecast", "worker", "--processes", "2", "--threads", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(workers := [c for c in _children(parent.pid) if "spawn_main" in _cmdline(c)]) < 2:
            assert time.monotonic() < deadline and parent.poll() is None, "worker processes did not start"
            time.sleep(0.2)

        parent.send_signal(signal.SIGKILL)
        parent.wait(10)

        deadline = time.monotonic() + 60
        while any(_alive(w) for w in workers):
            assert time.monotonic() < deadline, f"orphaned worker processes still running: {workers}"
            time.sleep(0.2)
    finally:
        for pid in [*_children(parent.pid), *workers]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()
    assert "worker_parent_died" in (tmp_path / "worker.log").read_text()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""
