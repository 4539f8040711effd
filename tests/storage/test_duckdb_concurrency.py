"""The embedded store's one shared connection under concurrent use: health pings beside imports.

A ping that left its ``SELECT 1`` half read made the next ``register`` (every new meter's
registry write) fail with "connection has an unfinished result", whichever thread came next.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

ROUNDS = 200
PINGERS = 3


def test_pings_in_threads_never_break_concurrent_imports(tmp_path: Path) -> None:
    store = DuckDBSeriesStore(tmp_path / "race.duckdb")
    index = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC")
    readings = pd.Series(np.ones(len(index)), index=index)
    stop = threading.Event()
    ping_errors: list[BaseException] = []
    pings = [0] * PINGERS

    def pinger(slot: int) -> None:
        while not stop.is_set():
            try:
                store.ping()
                pings[slot] += 1
            except BaseException as exc:  # collected and asserted on below
                ping_errors.append(exc)
            stop.wait(0.0002)  # probes come spaced; without a pause they starve the writer of the lock

    threads = [threading.Thread(target=pinger, args=(i,), daemon=True) for i in range(PINGERS)]
    for thread in threads:
        thread.start()
    write_errors: list[str] = []
    try:
        for i in range(ROUNDS):
            try:
                store.upsert_meters([Meter(f"m{i}", MeterType.ELECTRICITY, "s1")])
                store.write_readings(MeterType.ELECTRICITY, f"m{i}", readings)
                assert store.get_meter(f"m{i}") is not None
            except Exception as exc:  # every failed round is reported, not just the first
                write_errors.append(f"round {i}: {exc}")
        meters = len(store.list_meters())
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        store.close()

    assert write_errors == [] and ping_errors == []
    assert sum(pings) >= ROUNDS  # the pingers really ran beside the writes, about one per round
    assert meters == ROUNDS
