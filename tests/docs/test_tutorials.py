"""The tutorials' commands run against a real ``energy-forecast serve``: a changed route or flag fails."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import redis

from tests.docs.examples import blocks, script, unmarked

REPO = Path(__file__).resolve().parents[2]
TUTORIALS = sorted((REPO / "docs" / "tutorials").glob("*.md"))
README = REPO / "README.md"
# Pages that need the shared Redis, InfluxDB and S3 of scripts/servers.sh; the others need nothing.
WITH_SERVERS = {"scaling-out.md"}
# A page's own limit, under the test's (pytest-timeout) so that an overrun reports the page's output.
PAGE_TIMEOUT_S = 420
PAGE_TEST_TIMEOUT_S = PAGE_TIMEOUT_S + 60
RUNNABLE = [
    p
    for p in TUTORIALS
    if p.name not in WITH_SERVERS and any(b.mode in {"run", "background"} for b in blocks(p.read_text()))
]


# Output a page shows its reader (at 127.0.0.1:8000), checked in what the page printed when it ran.
SHOWN_OUTPUT = {
    "first-hour.md": (
        "6 of 6 trained",
        "published 7-day forecasts of 6 of 6 meters",
        "dashboard: http://127.0.0.1:8000/",
    ),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("page", [README, *TUTORIALS], ids=lambda p: p.name)
def test_every_shell_and_python_block_says_whether_it_runs(page: Path) -> None:
    missing = [f"{page.name}:{b.line}" for b in unmarked(page.read_text())]
    assert not missing, f"mark each <!-- run -->, <!-- run: background --> or <!-- skip: why -->: {missing}"


def own_meters_files(work: Path) -> None:
    """The reader's files from the first tutorial: its data-writing block, run as written."""
    first = (REPO / "docs" / "tutorials" / "own-meters.md").read_text()
    data_block = next(b for b in blocks(first) if b.language == "python")
    subprocess.run([sys.executable, "-c", data_block.code], cwd=work, check=True, timeout=120)


def run_page(page: Path, tmp_path: Path, extra_env: dict[str, str] | None = None) -> tuple[str, int]:
    """Run the page's marked blocks in a fresh directory that has the repository's .venv: its
    standard output and the port its service listened on."""
    assert shutil.which("curl"), "the tutorials use curl"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EF_", "REDIS_URL", "INFLUX_"))}
    env |= {
        "EF_PORT": str(port),
        "EF_WEATHER__PROVIDERS": "[]",  # tests never reach the internet
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "HOME": str(tmp_path),
        **(extra_env or {}),
    }
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    # The pages start from the repository root (they put .venv/bin on PATH from there).
    (work / ".venv").symlink_to(Path(sys.executable).parents[1])
    text = script(page.read_text(), page, port)
    # A session of its own: a page that fails or overruns takes its background servers with it.
    process = subprocess.Popen(
        ["bash", "-c", text],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=PAGE_TIMEOUT_S)
    except BaseException as exc:  # the page's timeout, pytest's, or an interrupt
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        if not isinstance(exc, subprocess.TimeoutExpired):
            raise
        err += f"\n{page.name} did not finish within {PAGE_TIMEOUT_S} s"
    assert process.returncode == 0, f"{err[-6000:]}\n--- stdout\n{out[-3000:]}"
    return out, port


@pytest.mark.slow
@pytest.mark.timeout(PAGE_TEST_TIMEOUT_S)
@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: p.name)
def test_the_tutorial_runs_as_written(page: Path, tmp_path: Path) -> None:
    printed, port = run_page(page, tmp_path)

    for line in SHOWN_OUTPUT.get(page.name, ()):
        assert line in page.read_text(), f"{page.name} no longer shows {line!r}: update SHOWN_OUTPUT"
        assert line.replace("127.0.0.1:8000", f"127.0.0.1:{port}") in printed, line


@pytest.mark.slow
@pytest.mark.timeout(PAGE_TEST_TIMEOUT_S)
@pytest.mark.integration
def test_scaling_out_runs_against_shared_redis_influxdb_and_s3(
    redis_url: str, influx_url: str, influx_database: str, s3_endpoint: str, s3_store_url: str, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    own_meters_files(work)
    # The page's ef.env, pointed at the throw-away servers instead of the reader's hosts.
    (work / "ef.env").write_text(
        f"REDIS_URL={redis_url}\nINFLUX_URL={influx_url}\nINFLUX_BUCKET={influx_database}\n"
        f"EF_MODEL_STORE_URL={s3_store_url}\nEF_S3_ENDPOINT_URL={s3_endpoint}\n"
        f"AWS_ACCESS_KEY_ID={os.environ['AWS_ACCESS_KEY_ID']}\n"
        f"AWS_SECRET_ACCESS_KEY={os.environ['AWS_SECRET_ACCESS_KEY']}\nAWS_DEFAULT_REGION=us-east-1\n"
    )
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        run_page(REPO / "docs" / "tutorials" / "scaling-out.md", tmp_path)
    finally:
        client.flushdb()
        client.close()


@pytest.mark.slow
@pytest.mark.timeout(PAGE_TEST_TIMEOUT_S)
def test_the_readme_runs_as_written() -> None:
    # A short directory: the embedded Redis's unix socket lives under EF_HOME=$PWD/var.
    home = Path(tempfile.mkdtemp(prefix="ef-readme-"))
    try:
        (home / "work").mkdir()
        own_meters_files(home / "work")
        run_page(README, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
