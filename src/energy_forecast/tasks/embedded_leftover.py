"""Find the redis-server a dead run of this home left behind and shut it down with its data on disk.

A ``serve`` killed with SIGKILL (the OOM killer, a power cut of the process) leaves its embedded
redis-server running, reparented to PID 1 and holding the dead run's queue in memory. Starting a
second server on the same socket would hide that data and leave an orphan for ever, so the next
start retires it first:

- it is found by its socket answering (its ``INFO`` names its pid), or else by the pid file naming a
  live ``redis-server`` whose working directory is this home's Redis directory (Redis changes into
  its ``dir``), so a reused pid is never signalled;
- a server with its append-only file on is asked to ``SHUTDOWN NOSAVE``: Redis flushes and fsyncs
  the AOF on shutdown, and no RDB save can fail and make it refuse to exit;
- a server of an earlier version (RDB snapshots only, its config in a temporary directory that may
  be gone) first writes its memory with a foreground ``SAVE`` into this directory, where the next
  start loads it and turns it into an append-only file;
- one that does not answer, or does not exit, gets SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import psutil
import redis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

log = structlog.get_logger(__name__)

PROBE_TIMEOUT = timedelta(seconds=2)


def probe_client(socket_path: Path, timeout: timedelta = PROBE_TIMEOUT) -> redis.Redis:
    """A client on the socket without retries: redis-py would retry a refused socket for seconds."""
    seconds = timeout.total_seconds()
    return redis.Redis(
        unix_socket_path=str(socket_path),
        socket_timeout=seconds,
        socket_connect_timeout=seconds,
        retry=Retry(NoBackoff(), 0),
    )


def retire_leftover(
    directory: Path,
    socket_path: Path,
    pid_path: Path,
    *,
    rdb_name: str,
    aof_name: str,
    timeout: timedelta = timedelta(seconds=15),
) -> int | None:
    """Shut down a server left on this home's socket or pid file; returns its pid (None: none found)."""
    pid: int | None = None
    client = probe_client(socket_path)
    try:
        pid = int(client.info("server")["process_id"])
        _persist(client, directory, rdb_name=rdb_name, aof_name=aof_name)
        with contextlib.suppress(redis.RedisError):
            client.shutdown(nosave=True)
    except (redis.RedisError, OSError, KeyError, ValueError):
        pid = pid or live_server_pid(pid_path, directory)
        if pid is not None:
            _signal(pid, signal.SIGTERM)
    finally:
        client.close()
    if pid is None:
        return None
    log.warning("embedded_redis_leftover_stopped", pid=pid, directory=str(directory))
    if not wait_until_exited(pid, timeout):
        _signal(pid, signal.SIGKILL)
        wait_until_exited(pid, timedelta(seconds=5))
    return pid


def _persist(client: redis.Redis, directory: Path, *, rdb_name: str, aof_name: str) -> None:
    """Make sure the leftover's memory is on disk where our start will load it."""
    if int(client.info("persistence").get("aof_enabled", 0)):
        return  # SHUTDOWN fsyncs the append-only file
    client.config_set("dir", str(directory))
    client.config_set("dbfilename", rdb_name)
    client.save()
    stale = directory / aof_name
    if stale.exists():  # older than the snapshot just written: it must not win at our start
        stale.rename(stale.with_name(f"{aof_name}.stale-{int(time.time())}"))


def live_server_pid(pid_path: Path, directory: Path) -> int | None:
    """The pid in ``pid_path`` when it is a live redis-server working in ``directory``."""
    try:
        pid = int(pid_path.read_text(encoding="ascii").strip())
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE or "redis-server" not in process.name():
            return None
        if Path(process.cwd()).resolve() != directory.resolve():
            return None
    except (OSError, ValueError, psutil.Error):
        return None
    return pid


def wait_until_exited(pid: int, timeout: timedelta) -> bool:
    """Wait for ``pid`` to be gone or a zombie (a PID 1 that does not reap, as in containers)."""
    deadline = time.monotonic() + timeout.total_seconds()
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)
