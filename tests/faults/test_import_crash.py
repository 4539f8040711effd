"""An import into the embedded DuckDB store is SIGKILLed; the store holds all of it or none of it.

An import is one transaction (``import_directory`` inside ``store.batch()``). Killed half-way
through it, nothing is committed; killed while DuckDB writes the commit (the file grows, the WAL
appears), the WAL replay at the next open either completes the commit or drops it. Either way the
next process opens the file as it is, without repair, and ``serve`` then trains from it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from energy_forecast.services.ingestion import import_directory
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from tests.faults.embedded_home import REPO, Serve, child_env, redis_servers, short_home
from tests.tasks.fakes import wait_for

pytestmark = pytest.mark.integration

METERS = [f"m{i:02d}" for i in range(16)]
HOURS = 24 * 200  # 16 meters x 4,800 h: 76,800 readings, an import of about a second


def write_csv_dir(path: Path) -> int:
    """``meters.csv``, ``electricity.csv`` and ``temperature.csv`` in the import's long format."""
    path.mkdir(parents=True)
    pd.DataFrame(
        {"meter_id": METERS, "meter_type": "electricity", "site_id": "s1", "unit": "kWh", "source": "test"}
    ).to_csv(path / "meters.csv", index=False)
    stamps = pd.date_range("2023-01-01", periods=HOURS, freq="h", tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")
    daily = np.sin(np.arange(HOURS) / 24 * 2 * np.pi)
    rng = np.random.default_rng(0)
    readings = pd.concat(
        pd.DataFrame(
            {
                "timestamp": stamps,
                "meter_id": m,
                "consumption": np.round(100 + 40 * daily + rng.normal(0, 3, HOURS), 3),
            }
        )
        for m in METERS
    )
    readings.to_csv(path / "electricity.csv", index=False)
    pd.DataFrame({"timestamp": stamps, "site_id": "s1", "temperature_c": np.round(10 + 5 * daily, 2)}).to_csv(
        path / "temperature.csv", index=False
    )
    return len(readings)


@pytest.fixture
def home() -> Iterator[Path]:
    path = short_home()
    yield path
    for server in redis_servers(path):
        server.kill()
    shutil.rmtree(path, ignore_errors=True)


def readings_in(db: Path) -> tuple[int, int, int]:
    """(meters, readings, temperatures) of the store, opened as the next ``serve`` would open it."""
    store = DuckDBSeriesStore(db)
    try:
        counts = (
            len(store.list_meters()),
            sum(s.count for s in store.readings_stats().values()),
            sum(s.count for s in store.temperature_stats().values()),
        )
    finally:
        store.close()
    return counts


def run_import(home: Path, args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=REPO,
        env=child_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_an_import_killed_mid_way_leaves_all_or_nothing_and_the_store_opens_for_serve(
    home: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    rows = write_csv_dir(data)
    db = home / "energy.duckdb"
    DuckDBSeriesStore(db).close()  # the schema only: the size a commit must grow
    empty_size = db.stat().st_size
    whole = (len(METERS), rows, HOURS)

    # Killed inside the transaction, half of the meters written.
    marker = home / "paused-in-import"
    paused = run_import(
        home, ["-m", "tests.faults.import_main", str(data), str(len(METERS) // 2), str(marker)]
    )
    wait_for(marker.exists, timeout=120, interval=0.05)
    paused.send_signal(signal.SIGKILL)
    paused.wait(10)
    assert readings_in(db) == (0, 0, 0)

    # Killed while DuckDB writes the commit: the file grows or the WAL appears.
    committing = run_import(home, ["-m", "energy_forecast", "import", "--data-dir", str(data)])
    wal = db.with_name(db.name + ".wal")
    while committing.poll() is None and db.stat().st_size == empty_size and not wal.exists():
        time.sleep(0.001)
    killed_mid_commit = committing.poll() is None
    os.kill(committing.pid, signal.SIGKILL)
    committing.wait(10)
    after_commit_kill = readings_in(db)
    assert after_commit_kill in {(0, 0, 0), whole}, (after_commit_kill, killed_mid_commit)

    if after_commit_kill != whole:  # nothing committed: the same import again, to its end
        store = DuckDBSeriesStore(db)
        import_directory(store, data)
        store.close()
    assert readings_in(db) == whole

    with Serve(home) as serve:
        accepted = serve.client.post("/trainmodel/batch/", json={"meter_ids": METERS[:2]})
        assert accepted.status_code == 202, accepted.text
        batch_id = accepted.json()["batch_id"]
        final = wait_for(lambda: (b := serve.batch(batch_id))["done"] and b, timeout=120, interval=0.2)
        serving = redis_servers(home)
        serve.stop()
    assert final["states"] == {"SUCCESS": 2}, final["states"]
    assert len(serving) == 1
    assert redis_servers(home) == []
