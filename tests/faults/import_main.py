"""An import that stops half-way inside its transaction: ``python -m tests.faults.import_main DIR N MARKER``.

It runs ``import_directory`` on the store ``serve`` opens (``EF_HOME``'s DuckDB file) through
a ``SeriesStore`` that delegates every call to it and, after the N-th meter's readings are written
(inside the import's one transaction), creates MARKER and sleeps, so a test can SIGKILL the import
with half of the rows written and nothing committed. No module of the package is replaced.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from energy_forecast.domain.meters import MeterType
from energy_forecast.services.ingestion import import_directory
from energy_forecast.settings import load_settings
from energy_forecast.storage.base import SeriesStore
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore


class PausingStore:
    """The real store, pausing after ``after`` meters' readings have been written."""

    def __init__(self, store: SeriesStore, after: int, marker: Path) -> None:
        self._store = store
        self._after = after
        self._marker = marker
        self._written = 0

    def write_readings(self, meter_type: MeterType, meter_id: str, readings: pd.Series) -> int:
        written = self._store.write_readings(meter_type, meter_id, readings)
        self._written += 1
        if self._written == self._after:
            self._marker.write_text(str(self._written), encoding="utf-8")
            time.sleep(300)  # the test kills us here
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def main() -> None:
    data_dir, after, marker = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    store = DuckDBSeriesStore(load_settings().duckdb_path)  # what ``serve`` opens on this home
    try:
        import_directory(PausingStore(store, after, marker), data_dir)  # type: ignore[arg-type]
    finally:
        store.close()


if __name__ == "__main__":
    main()
