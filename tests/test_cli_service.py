"""The CLI beside a running ``serve`` on the same home, and without one: the same commands, the same output.

``serve`` runs as a real process (uvicorn, embedded Redis, the DuckDB file locked); the commands run in
this process and must go through its HTTP API, never touching the locked file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from energy_forecast.cli import app
from energy_forecast.cli.remote import RECORD_NAME

runner = CliRunner()
HOURS = 24 * 70


def write_data(folder: Path) -> Path:
    """Two meters (one of each type) and their site's temperature: 70 days, daily and weekly cycles."""
    folder.mkdir(parents=True, exist_ok=True)
    stamps = pd.date_range("2024-01-01", periods=HOURS, freq="h", tz="UTC")
    hour, day = stamps.hour.to_numpy(), stamps.day_of_week.to_numpy()
    rng = np.random.default_rng(7)
    temperature = 8 + 6 * np.sin((hour - 9) / 24 * 2 * np.pi) + rng.normal(0, 0.5, HOURS)
    electricity = 50 + 20 * (hour >= 8) * (hour < 19) * (day < 5) - temperature + rng.normal(0, 1, HOURS)
    water = 10 + 5 * np.sin(hour / 24 * 2 * np.pi) ** 2 + rng.normal(0, 0.3, HOURS)
    iso = stamps.strftime("%Y-%m-%dT%H:%M:%SZ")
    (folder / "meters.csv").write_text(
        "meter_id,meter_type,site_id,unit,groups\n"
        "shop_e1,electricity,site_a,kWh,shops\nshop_w1,water,site_a,m3,\n"
    )
    pd.DataFrame({"timestamp": iso, "meter_id": "shop_e1", "consumption": electricity.round(3)}).to_csv(
        folder / "electricity.csv", index=False
    )
    pd.DataFrame({"timestamp": iso, "meter_id": "shop_w1", "consumption": water.round(3)}).to_csv(
        folder / "water.csv", index=False
    )
    pd.DataFrame({"timestamp": iso, "site_id": "site_a", "temperature_c": temperature.round(2)}).to_csv(
        folder / "temperature.csv", index=False
    )
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EF_") or k.startswith("EF_TEST_")}
    env.update(
        EF_HOME=str(home),
        EF_PORT=str(free_port()),
        EF_CONFIG_DIR=str(home.parent / "config"),
        EF_SCHEDULE__ENABLED="false",
        EF_WEATHER__PROVIDERS="[]",
    )
    return env


class Service:
    """``energy-forecast serve`` as a child process on a home, until ``stop``."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from energy_forecast.cli import main; main()", "serve"],
            env=service_env(home),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while not (home / RECORD_NAME).is_file():
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "serve did not record itself"
            time.sleep(0.2)
        self.record = json.loads((home / RECORD_NAME).read_text())

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self.process.stderr.close()  # type: ignore[union-attr]
        return code


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def service_factory() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        if service.process.poll() is None:
            service.stop()


def cli(*args: str) -> str:
    """Run a command here; its stdout (exit 0 required)."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.stdout


def session(data: Path, export_to: Path) -> dict[str, object]:
    """The quick start's commands, each one's output as a user would compare them."""
    imported = cli("import", "--data-dir", str(data))
    trained = cli("train", "--all")
    forecast = json.loads(cli("forecast", "--meter-id", "shop_e1", "--days", "2", "--json"))
    written = json.loads(cli("forecast", "--all", "--days", "1", "--write", "--json"))
    group = json.loads(cli("forecast", "--group", "shops", "--days", "1", "--json"))
    backtest = json.loads(
        cli("backtest", "--meter-id", "shop_w1", "--meter-type", "water", "--days", "2", "--json")
    )
    cli("export", "--meter-id", "shop_e1", "--meter-type", "electricity", "--output", str(export_to))
    exported = cli(
        "export",
        "--meter-id",
        "shop_w1",
        "--meter-type",
        "water",
        "--start",
        "2024-03-01",
        "--format",
        "json",
    )
    return {
        "imported": imported.strip().splitlines()[-1],
        "meters": json.loads(cli("meters", "--json")),
        "trained": trained.strip().splitlines()[-1],
        "forecast": [{k: v for k, v in row.items() if k != "model_version"} for row in forecast],
        "group": group,
        "written": sorted((row["meter_id"], row["points_written"], row["first_hour"]) for row in written),
        "backtest_hours": len(backtest["records"]),
        "exported_csv": export_to.read_text(),
        "exported_json": json.loads(exported),
    }


@pytest.mark.slow
def test_every_command_works_beside_the_running_service_says_so_and_the_same_without_it(
    home: Path, tmp_path: Path, service_factory: list[Service], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_data(tmp_path / "data")
    ops_key = cli("apikey", "create", "--name", "ops", "--scope", "write").splitlines()[0]  # keys enforced
    service = Service(home)
    service_factory.append(service)

    remote = session(data, tmp_path / "remote.csv")
    # Beside the service (the same one, to spare a second start): a command says where its work went,
    # a second serve is refused, a bad import is refused by the service, a site is set through it.
    again = runner.invoke(app, ["import", "--data-dir", str(data)])
    refused = runner.invoke(app, ["serve"])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "water.csv").write_text("timestamp,meter_id,consumption\n2024-01-01T00:00:00Z,w9,abc\n")
    failed = runner.invoke(app, ["import", "--data-dir", str(bad)])
    site = runner.invoke(
        app, ["weather", "site", "site_a", "--latitude", "45.1", "--longitude", "9.2", "--city", "Milan"]
    )
    locations = httpx.get(f"{service.record['url']}/location/", headers={"X-API-Key": ops_key}, timeout=30)

    assert again.exit_code == 0, again.output
    assert f"to the running service at {service.record['url']}" in again.stderr
    assert refused.exit_code == 1
    assert f"already runs on this home ({home}): {service.record['url']}" in refused.stderr
    assert failed.exit_code == 1
    assert "water.csv, row 2" in failed.stderr and "not a number" in failed.stderr
    assert "lock" not in failed.output.lower()
    assert site.exit_code == 0, site.output
    assert locations.status_code == 200, locations.text
    sites = {s["site_id"]: s for s in locations.json()}
    assert sites["site_a"]["city"] == "Milan" and sites["site_a"]["meter_ids"] == ["shop_e1", "shop_w1"]

    assert service.process.poll() is None, "the service kept running throughout"
    service.stop()  # Ctrl-C: uvicorn shuts down cleanly, then re-raises the signal
    assert not (home / RECORD_NAME).exists(), "a clean stop removes the record"
    keys = json.loads(cli("apikey", "list", "--json"))
    assert sorted(k["name"] for k in keys) == ["energy-forecast-cli-local", "ops"]
    monkeypatch.setenv("EF_HOME", str(tmp_path / "local-home"))
    local = session(data, tmp_path / "local.csv")

    assert remote["imported"] == local["imported"]
    assert remote["imported"].startswith(f"imported {2 * HOURS} readings of 2 meters")
    assert remote["meters"] == local["meters"] and len(remote["meters"]) == 2  # type: ignore[arg-type]
    assert remote["trained"] == local["trained"] == "2 of 2 trained"
    assert remote["forecast"] == local["forecast"]
    assert remote["group"] == local["group"]
    assert remote["group"][0]["members"] == 1 and len(remote["group"][0]["points"]) == 24  # type: ignore[index]
    assert remote["written"] == local["written"] and [w[1] for w in remote["written"]] == [24, 24]  # type: ignore[union-attr]
    assert remote["backtest_hours"] == local["backtest_hours"] == 48
    assert remote["exported_csv"] == local["exported_csv"]
    csv = str(remote["exported_csv"]).splitlines()
    assert csv[0] == "timestamp,consumption" and len(csv) == HOURS + 1
    assert csv[1].startswith("2024-01-01T00:00:00Z,")
    assert remote["exported_json"] == local["exported_json"]
    assert remote["exported_json"][0]["timestamp"] == "2024-03-01T00:00:00Z"  # type: ignore[index]


def test_a_stale_record_of_a_dead_service_is_ignored_and_removed(home: Path, tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    home.mkdir(parents=True)
    (home / RECORD_NAME).write_text(
        json.dumps({"url": "http://127.0.0.1:9", "pid": dead.pid, "started_at": "2024-01-01T00:00:00+00:00"})
    )

    imported = runner.invoke(app, ["import", "--data-dir", str(write_data(tmp_path / "data"))])

    assert imported.exit_code == 0, imported.output
    assert "running service" not in imported.output
    assert not (home / RECORD_NAME).exists()


def test_a_store_held_by_another_process_is_one_clear_line(home: Path) -> None:
    cli("meters")  # creates the home and its store
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(home / 'energy.duckdb')!r}); "
            "print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"open"
        result = runner.invoke(app, ["meters"])
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: the store of this home is in use by process {holder.pid}")
    assert "Could not set lock" not in result.output and "IO Error" not in result.output


# `energy-forecast demo` through a running service (trains and publishes all six sample meters): the
# first-hour tutorial runs exactly that, and tests/docs/test_tutorials.py checks what it prints.
