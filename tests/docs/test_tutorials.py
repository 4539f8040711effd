"""The tutorials' commands run against a real ``energy-forecast serve``: a changed route or flag fails."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.examples import blocks, script, unmarked

REPO = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((REPO / "docs" / "tutorials").glob("*.md"))
RUNNABLE = [p for p in TUTORIALS if any(b.mode in {"run", "background"} for b in blocks(p.read_text()))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("page", TUTORIALS, ids=lambda p: p.name)
def test_every_shell_and_python_block_says_whether_it_runs(page: Path) -> None:
    missing = [f"{page.name}:{b.line}" for b in unmarked(page.read_text())]
    assert not missing, f"mark each <!-- run -->, <!-- run: background --> or <!-- skip: why -->: {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: p.name)
def test_the_tutorial_runs_as_written(page: Path, tmp_path: Path) -> None:
    assert shutil.which("curl"), "the tutorials use curl"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EF_", "REDIS_URL", "INFLUX_"))}
    env |= {
        "EF_PORT": str(port),
        "EF_WEATHER__PROVIDERS": "[]",  # tests never reach the internet
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "HOME": str(tmp_path),
    }
    work = tmp_path / "work"
    work.mkdir()
    # The pages start from the repository root (they put .venv/bin on PATH from there).
    (work / ".venv").symlink_to(Path(sys.executable).parents[1])
    text = script(page.read_text(), page, port)
    done = subprocess.run(
        ["bash", "-c", text], cwd=work, env=env, capture_output=True, text=True, timeout=420
    )
    assert done.returncode == 0, f"{done.stderr[-6000:]}\n--- stdout\n{done.stdout[-3000:]}"
