"""A second ``serve`` on a home that is already served says so in one line, before any server starts."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from energy_forecast.cli import app

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("REDIS_URL", raising=False)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server must not start")

    monkeypatch.setattr(uvicorn, "run", never)
    return tmp_path / "home"


def test_second_serve_with_the_embedded_redis_held_prints_one_line(home: Path) -> None:
    lock_dir = home / "redis"
    home.mkdir(mode=0o700, parents=True)
    lock_dir.mkdir(mode=0o700)
    fd = os.open(lock_dir / "embedded.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, b"4242\n")
    try:
        result = runner.invoke(app, ["serve", "--port", "20899"])
    finally:
        os.close(fd)

    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"error: another energy-forecast process (pid 4242) already serves {home}; "
        "stop it first, or give this one another EF_HOME"
    ]
    assert "Traceback" not in result.output


def test_second_serve_with_the_duckdb_file_held_by_another_process_prints_one_line(home: Path) -> None:
    home.mkdir(mode=0o700, parents=True)
    database = home / "energy.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, os, sys; os.umask(0o077); c = duckdb.connect(sys.argv[1]); "
            "print('held', flush=True); sys.stdin.read()",
            str(database),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = runner.invoke(app, ["serve", "--port", "20899"])
    finally:
        holder.communicate("")

    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0] == (
        f"error: another process (pid {holder.pid}) holds {database}; "
        "stop it first, or give this one another EF_HOME"
    )
