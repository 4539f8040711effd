"""InfluxDB dies in the middle of an import: a clear error, then a re-run yields exact row counts."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pandas as pd
import pytest

from energy_forecast.errors import StorageError
from energy_forecast.services.ingestion import import_directory
from energy_forecast.storage.influx_store import InfluxSeriesStore
from tests.conftest import hourly_series
from tests.faults.servers import PrivateInflux

pytestmark = pytest.mark.integration

METERS = {"b1": "electricity", "b2": "electricity", "w1": "water"}
HOURS = 24 * 60
GAPS = 5  # empty consumption cells per meter: gaps, never written
DATABASE = "faults"


def write_data_dir(directory: Path) -> dict[str, int]:
    """Long-format import files; returns the readings each meter must end up with."""
    directory.mkdir()
    rows = ["meter_id,meter_type,site_id,unit"] + [f"{m},{t},s1,kWh" for m, t in METERS.items()]
    (directory / "meters.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    expected: dict[str, int] = {}
    for meter_type in ("electricity", "water"):
        frames = []
        for i, (meter_id, mtype) in enumerate(METERS.items()):
            if mtype != meter_type:
                continue
            series = hourly_series("2024-01-01", hours=HOURS, seed=i)
            frame = pd.DataFrame(
                {"timestamp": series.index.strftime("%Y-%m-%dT%H:%M:%SZ"), "meter_id": meter_id}
            )
            frame["consumption"] = series.round(3).astype(str).to_numpy()
            frame.loc[frame.index[10 : 10 + GAPS], "consumption"] = ""
            frames.append(frame)
            expected[meter_id] = HOURS - GAPS
        pd.concat(frames).to_csv(directory / f"{meter_type}.csv", index=False)
    temperature = hourly_series("2024-01-01", hours=HOURS, seed=9, base=12, name="temperature")
    pd.DataFrame(
        {
            "timestamp": temperature.index.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "site_id": "s1",
            "temperature_c": temperature.round(2).to_numpy(),
        }
    ).to_csv(directory / "temperature.csv", index=False)
    return expected


def killing_client(server: PrivateInflux, after_writes: int) -> httpx.Client:
    """An HTTP client that SIGKILLs InfluxDB just before sending the ``after_writes``-th /write.

    The kill happens on the real server between two batches of one import, so the first
    batches are stored and the rest meet a dead server; nothing of our code is replaced.
    """
    writes = 0
    lock = threading.Lock()

    def before_request(request: httpx.Request) -> None:
        nonlocal writes
        if request.url.path != "/write":
            return
        with lock:
            writes += 1
            if writes == after_writes:
                server.kill()

    return httpx.Client(timeout=5, event_hooks={"request": [before_request]})


def counts(store: InfluxSeriesStore) -> dict[str, int]:
    return {meter_id: stats.count for meter_id, stats in store.readings_stats().items()}


def test_import_fails_clearly_while_influx_is_down_and_a_rerun_is_exact(tmp_path: Path) -> None:
    expected = write_data_dir(tmp_path / "data")
    with PrivateInflux(tmp_path / "influx") as server:
        # Act 1: InfluxDB dies between the batches of an import.
        client = killing_client(server, after_writes=3)
        store = InfluxSeriesStore(server.url, DATABASE, batch_size=2_000, client=client, timeout_s=5)
        with pytest.raises(StorageError, match=r"InfluxDB at http://127\.0\.0\.1:\d+ unreachable"):
            import_directory(store, tmp_path / "data")
        store.close()
        client.close()

        # Act 2: the CLI, while InfluxDB is still down, says so in one line and exits non-zero.
        env = {**os.environ, "INFLUX_URL": server.url, "INFLUX_BUCKET": DATABASE, "EF_HOME": str(tmp_path)}
        cli = subprocess.run(
            [sys.executable, "-m", "energy_forecast", "import", "--data-dir", str(tmp_path / "data")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert cli.returncode == 1
        assert "error: InfluxDB at" in cli.stderr and "unreachable" in cli.stderr
        assert "Traceback" not in cli.stderr

        # Act 3: InfluxDB is back; the first batches survived, the rest are missing.
        server.start()
        store = InfluxSeriesStore(server.url, DATABASE, batch_size=2_000, timeout_s=5)
        try:
            partial = counts(store)
            assert 0 < sum(partial.values()) < sum(expected.values())

            report = import_directory(store, tmp_path / "data")
            assert report.readings_written == expected
            assert counts(store) == expected

            # A second re-run changes nothing: every write is an upsert on (meter, hour).
            import_directory(store, tmp_path / "data")
            assert counts(store) == expected
            assert store.temperature_stats()["s1"].count == HOURS
        finally:
            store.close()
