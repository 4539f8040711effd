"""Whole-site temperature series an InfluxDB store keeps, checked with the server before each use.

Why: a fleet's meters share few sites, and every training reads its site's whole temperature
history. At 19,700 hours that costs InfluxDB ~130 ms of CPU and this process ~50 ms of decoding,
for the same answer meter after meter, on the server every worker host shares (the first shared
service to saturate at fleet size). Nothing tells this process when another one writes
(imports run in the API, workers on other hosts), so a kept series is used only after InfluxDB
has answered the site's count and sum of temperatures (~30 ms of its CPU, a one-row answer): an
appended, deleted or corrected hour changes one of them. The fingerprint is always read before
the series it describes, so a write between the two makes the kept copy look stale, never fresh.

Only wide windows (training's whole history) use it; a forecast's few weeks are cheaper to read
than to fingerprint.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import pandas as pd

# A window at least this long (or unbounded) is read through the kept whole-site series.
MIN_CACHED_SPAN = pd.Timedelta(days=90)
# About 100 sites of three years of hours; a site over the bound is simply not kept.
DEFAULT_MAX_POINTS = 2_600_000

Fingerprint = tuple[int, float]


def wide(start: pd.Timestamp | None, end: pd.Timestamp | None) -> bool:
    """Whether a read of ``[start, end)`` should go through the kept whole-site series."""
    return start is None or end is None or end - start >= MIN_CACHED_SPAN


class TemperatureCache:
    """Least recently used whole-site series with the fingerprint they were read under."""

    def __init__(self, max_points: int = DEFAULT_MAX_POINTS) -> None:
        self._max_points = max_points
        self._sites: OrderedDict[str, tuple[Fingerprint, pd.Series]] = OrderedDict()
        self._points = 0
        self._lock = threading.Lock()

    def __contains__(self, site_id: str) -> bool:
        with self._lock:
            return site_id in self._sites

    def get(self, site_id: str, fingerprint: Fingerprint) -> pd.Series | None:
        """The kept series if it was read under ``fingerprint``; a stale one is dropped."""
        with self._lock:
            entry = self._sites.get(site_id)
            if entry is None:
                return None
            if entry[0] != fingerprint:
                self._drop(site_id)
                return None
            self._sites.move_to_end(site_id)
            return entry[1]

    def put(self, site_id: str, fingerprint: Fingerprint, series: pd.Series) -> None:
        with self._lock:
            self._drop(site_id)
            if len(series) > self._max_points:
                return
            self._sites[site_id] = (fingerprint, series)
            self._points += len(series)
            while self._points > self._max_points:
                self._drop(next(iter(self._sites)))

    def discard(self, site_id: str) -> None:
        """Forget a site (this process wrote to it)."""
        with self._lock:
            self._drop(site_id)

    def _drop(self, site_id: str) -> None:
        entry = self._sites.pop(site_id, None)
        if entry is not None:
            self._points -= len(entry[1])
