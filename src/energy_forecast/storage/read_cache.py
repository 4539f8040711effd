"""Whole series and registry rows of one DuckDB file kept in memory, dropped by every write.

Why a store may cache at all: DuckDB lets one process open a file for writing, so every write
to an embedded store passes through this process, and the store can invalidate exactly what it
changed. A forecast then costs no table scan (reading one meter's hours out of a 500k-row table
took ~4 ms, a third of a 7-day forecast request).

Correctness rests on generations. A reader notes the key's generation before reading the
database and may store what it read only if the generation is unchanged afterwards; a writer
bumps the generation after each write and again when its transaction ends (commit or rollback),
so no reader can keep data that a concurrent write, or a rolled-back batch, made stale. The cache
is shared by every store object opened on the same file in this process (they share DuckDB's
database, not its transactions).
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Any

# Enough for ~120 meters of three years of hours; a series over this bound is simply not kept.
DEFAULT_MAX_POINTS = 3_000_000
# Weak: a file's cache lives as long as a store object on it does, not as long as the process.
_SHARED: weakref.WeakValueDictionary[str, SeriesReadCache] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


class SeriesReadCache:
    """Least recently used values per key (whole series, registry tables), bounded in points."""

    def __init__(self, max_points: int = DEFAULT_MAX_POINTS) -> None:
        self._max_points = max_points
        self._series: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._points = 0
        self._generations: dict[Hashable, int] = {}
        self._lock = threading.Lock()
        # Tells this cache's generations apart from another file's (both start at 0).
        self.identity = uuid.uuid4().hex

    def generation(self, key: Hashable) -> int:
        """The token a reader takes before reading ``key`` from the database."""
        with self._lock:
            return self._generations.get(key, 0)

    def get(self, key: Hashable) -> Any | None:
        """The cached value (shared: callers must copy before changing it), or None."""
        with self._lock:
            entry = self._series.get(key)
            if entry is None:
                return None
            self._series.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: Any, token: int, size: int) -> None:
        """Keep ``value`` (``size`` points) unless ``key`` was written since ``token`` was taken."""
        with self._lock:
            if token != self._generations.get(key, 0) or size > self._max_points:
                return
            self._drop(key)
            self._series[key] = (value, size)
            self._points += size
            while self._points > self._max_points:
                _, (_, oldest) = self._series.popitem(last=False)
                self._points -= oldest

    def invalidate(self, key: Hashable) -> None:
        """Forget ``key`` and make every read of it that is in flight unstorable."""
        with self._lock:
            self._generations[key] = self._generations.get(key, 0) + 1
            self._drop(key)

    def _drop(self, key: Hashable) -> None:
        old = self._series.pop(key, None)
        if old is not None:
            self._points -= old[1]


def cache_for(path: str) -> SeriesReadCache:
    """The cache shared by every store on ``path`` in this process (``:memory:`` gets its own)."""
    if path == ":memory:":
        return SeriesReadCache()
    path = str(Path(path).resolve())
    with _SHARED_LOCK:
        cache = _SHARED.get(path)
        if cache is None:
            cache = _SHARED[path] = SeriesReadCache()
        return cache
