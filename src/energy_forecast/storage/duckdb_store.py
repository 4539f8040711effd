"""Embedded default ``SeriesStore``: one DuckDB file under ``EF_HOME``, no server.

Timestamps are stored as naive ``TIMESTAMP`` holding UTC (DuckDB's ``TIMESTAMPTZ`` would render in
the session time zone); they are localised to UTC on the way out. Upserts go through a staging
frame: delete the same (meter, hour) rows, then append, inside one transaction, so a failed write
leaves nothing behind and a repeated write changes nothing. DuckDB allows one writing process
per file: the embedded mode runs API and workers in one process; several processes need InfluxDB.
That single writer is also why reads are served from memory (``storage.read_cache``): each write
invalidates exactly the series or registry it changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb
import numpy as np
import pandas as pd

from energy_forecast.domain.meters import Meter, MeterType, validate_meter_id, validate_site_id
from energy_forecast.domain.series import SeriesStats, between, make_series
from energy_forecast.domain.sites import Site
from energy_forecast.errors import StorageError
from energy_forecast.storage import forecast_layout
from energy_forecast.storage.read_cache import cache_for

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meters (
    meter_id VARCHAR PRIMARY KEY,
    meter_type VARCHAR NOT NULL,
    site_id VARCHAR NOT NULL,
    unit VARCHAR NOT NULL,
    timezone VARCHAR NOT NULL,
    latitude DOUBLE,
    longitude DOUBLE
);
CREATE TABLE IF NOT EXISTS readings (
    meter_type VARCHAR NOT NULL,
    meter_id VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL,
    consumption DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS temperature (
    site_id VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL,
    temperature DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS sites (
    site_id VARCHAR PRIMARY KEY,
    latitude DOUBLE NOT NULL,
    longitude DOUBLE NOT NULL,
    city VARCHAR,
    timezone VARCHAR NOT NULL,
    country VARCHAR
);
CREATE TABLE IF NOT EXISTS forecast (
    meter_type VARCHAR NOT NULL,
    meter_id VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL,
    lower DOUBLE,
    upper DOUBLE,
    value DOUBLE NOT NULL
);
"""


_METERS = ("registry", "meters")
_SITES = ("registry", "sites")
_Row = TypeVar("_Row", Meter, Site)


def _naive_utc(values: pd.DatetimeIndex) -> np.ndarray:
    return values.tz_convert("UTC").tz_localize(None).as_unit("us").to_numpy()


def _bounds(start: pd.Timestamp | None, end: pd.Timestamp | None) -> tuple[str, list[object]]:
    clauses, params = [], []
    if start is not None:
        clauses.append("ts >= ?")
        params.append(pd.Timestamp(start).tz_convert("UTC").tz_localize(None).to_pydatetime())
    if end is not None:
        clauses.append("ts < ?")
        params.append(pd.Timestamp(end).tz_convert("UTC").tz_localize(None).to_pydatetime())
    return "".join(f" AND {c}" for c in clauses), params


class DuckDBSeriesStore:
    """SeriesStore on a local DuckDB file (or ``:memory:``)."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self._path)
        except duckdb.Error as exc:
            raise StorageError(f"cannot open DuckDB file {self._path}: {exc}") from exc
        self._lock = threading.RLock()
        self._in_batch = False
        self._touched: set[Hashable] = set()
        self._cache = cache_for(self._path)
        self._con.execute(_SCHEMA)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group many writes into one transaction: one commit instead of one per meter."""
        with self._lock:
            if self._in_batch:
                yield
                return
            self._con.execute("BEGIN TRANSACTION")
            self._in_batch = True
            try:
                yield
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            else:
                self._con.execute("COMMIT")
            finally:
                self._in_batch = False
                # Other connections on this file saw the old rows until now; the transaction's
                # own reads may have seen rows that a rollback just removed.
                for key in self._touched:
                    self._cache.invalidate(key)
                self._touched.clear()

    @contextmanager
    def _writing(self, key: Hashable) -> Iterator[None]:
        """Invalidate ``key``'s cached reads around a write (and again when its batch ends)."""
        self._cache.invalidate(key)
        try:
            yield
        finally:
            self._cache.invalidate(key)
            if self._in_batch:
                self._touched.add(key)

    def _cached(self, key: Hashable, read: Callable[[], tuple[object, int]]) -> object:
        """``key``'s value from memory, else ``read()`` (value, size) from the database, kept."""
        value = self._cache.get(key)
        if value is None:
            token = self._cache.generation(key)
            value, size = read()
            self._cache.put(key, value, token, size)
        return value

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # One connection, serialised by the lock: a DuckDB transaction belongs to one connection,
        # so batch() and the writes inside it must share it.
        with self._lock:
            try:
                yield self._con
            except duckdb.Error as exc:
                raise StorageError(f"DuckDB error: {exc}") from exc

    def ping(self) -> None:
        with self._cursor() as cur:
            cur.execute("SELECT 1").fetchone()

    # registry -----------------------------------------------------------------------------------
    def upsert_meters(self, meters: list[Meter]) -> None:
        if not meters:
            return
        frame = pd.DataFrame(
            {
                "meter_id": [m.meter_id for m in meters],
                "meter_type": [m.meter_type.value for m in meters],
                "site_id": [m.site_id for m in meters],
                "unit": [m.unit for m in meters],
                "timezone": [m.timezone for m in meters],
                "latitude": pd.array([m.latitude for m in meters], dtype="Float64"),
                "longitude": pd.array([m.longitude for m in meters], dtype="Float64"),
            }
        )
        with self._writing(_METERS), self._cursor() as cur:
            cur.register("staging_meters", frame)
            try:
                cur.execute("INSERT OR REPLACE INTO meters SELECT * FROM staging_meters")
            finally:
                cur.unregister("staging_meters")

    def get_meter(self, meter_id: str) -> Meter | None:
        validate_meter_id(meter_id)
        return self._registry(_METERS, "meters", Meter).get(meter_id)

    def list_meters(self) -> list[Meter]:
        return list(self._registry(_METERS, "meters", Meter).values())

    # readings -----------------------------------------------------------------------------------
    def write_readings(self, meter_type: MeterType, meter_id: str, readings: pd.Series) -> int:
        validate_meter_id(meter_id)
        frame = pd.DataFrame(
            {
                "meter_type": MeterType(meter_type).value,
                "meter_id": meter_id,
                "ts": _naive_utc(pd.DatetimeIndex(readings.index)),
                "consumption": readings.to_numpy(dtype="float64"),
            }
        )
        with self._writing(_readings_key(meter_type, meter_id)):
            return self._upsert("readings", frame, ["meter_type", "meter_id"])

    def read_readings(
        self,
        meter_type: MeterType,
        meter_id: str,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.Series:
        validate_meter_id(meter_id)
        sql = "SELECT ts, consumption FROM readings WHERE meter_type = ? AND meter_id = ? ORDER BY ts"
        params = [MeterType(meter_type).value, meter_id]
        series = self._whole_series(_readings_key(meter_type, meter_id), sql, params, "consumption")
        return _between(series, start, end)

    def delete_readings(
        self, meter_type: MeterType, meter_id: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> None:
        validate_meter_id(meter_id)
        where, params = _bounds(start, end)
        with self._writing(_readings_key(meter_type, meter_id)), self._cursor() as cur:
            cur.execute(
                f"DELETE FROM readings WHERE meter_type = ? AND meter_id = ?{where}",
                [MeterType(meter_type).value, meter_id, *params],
            )

    def readings_stats(self, meter_type: MeterType | None = None) -> dict[str, SeriesStats]:
        sql = "SELECT meter_id, count(*), min(ts), max(ts) FROM readings"
        params: list[object] = []
        if meter_type is not None:
            sql += " WHERE meter_type = ?"
            params.append(MeterType(meter_type).value)
        with self._cursor() as cur:
            rows = cur.execute(sql + " GROUP BY meter_id", params).fetchall()
        return {r[0]: SeriesStats(r[0], int(r[1]), _utc(r[2]), _utc(r[3])) for r in rows}

    def data_version(self, meter_type: MeterType, meter_id: str, site_id: str) -> Hashable | None:
        # Exact because every write to this file passes through this process (see read_cache).
        keys = (_readings_key(meter_type, meter_id), ("temperature", site_id), _METERS, _SITES)
        return self._cache.identity, tuple(self._cache.generation(key) for key in keys)

    # temperature --------------------------------------------------------------------------------
    def write_temperature(self, site_id: str, temperature: pd.Series) -> int:
        validate_site_id(site_id)
        frame = pd.DataFrame(
            {
                "site_id": site_id,
                "ts": _naive_utc(pd.DatetimeIndex(temperature.index)),
                "temperature": temperature.to_numpy(dtype="float64"),
            }
        )
        with self._writing(("temperature", site_id)):
            return self._upsert("temperature", frame, ["site_id"])

    def read_temperature(
        self, site_id: str, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
    ) -> pd.Series:
        validate_site_id(site_id)
        sql = "SELECT ts, temperature FROM temperature WHERE site_id = ? ORDER BY ts"
        series = self._whole_series(("temperature", site_id), sql, [site_id], "temperature")
        return _between(series, start, end)

    def delete_temperature(self, site_id: str, start: pd.Timestamp, end: pd.Timestamp) -> None:
        validate_site_id(site_id)
        where, params = _bounds(start, end)
        with self._writing(("temperature", site_id)), self._cursor() as cur:
            cur.execute(f"DELETE FROM temperature WHERE site_id = ?{where}", [site_id, *params])

    def temperature_stats(self) -> dict[str, SeriesStats]:
        sql = "SELECT site_id, count(*), min(ts), max(ts) FROM temperature GROUP BY site_id"
        with self._cursor() as cur:
            rows = cur.execute(sql).fetchall()
        return {r[0]: SeriesStats(r[0], int(r[1]), _utc(r[2]), _utc(r[3])) for r in rows}

    # sites --------------------------------------------------------------------------------------
    def upsert_site(self, site: Site) -> None:
        with self._writing(_SITES), self._cursor() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO sites VALUES (?, ?, ?, ?, ?, ?)",
                [site.site_id, site.latitude, site.longitude, site.city, site.timezone, site.country],
            )

    def get_site(self, site_id: str) -> Site | None:
        validate_site_id(site_id)
        return self._registry(_SITES, "sites", Site).get(site_id)

    def list_sites(self) -> list[Site]:
        return list(self._registry(_SITES, "sites", Site).values())

    # forecasts ----------------------------------------------------------------------------------
    def write_forecast(
        self, meter_type: MeterType, meter_id: str, model_version: str, forecast: pd.DataFrame
    ) -> int:
        validate_meter_id(meter_id)
        points = forecast_layout.check_forecast(forecast)
        frame = pd.DataFrame(
            {
                "meter_type": MeterType(meter_type).value,
                "meter_id": meter_id,
                "model_version": forecast_layout.check_version(model_version),
                "ts": _naive_utc(pd.DatetimeIndex(points.index)),
                "lower": points["lower"].to_numpy(),
                "upper": points["upper"].to_numpy(),
                "value": points["value"].to_numpy(),
            }
        )
        return self._upsert("forecast", frame, ["meter_type", "meter_id", "model_version"])

    def read_forecast(
        self,
        meter_type: MeterType,
        meter_id: str,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        validate_meter_id(meter_id)
        where, params = _bounds(start, end)
        sql = (
            "SELECT ts, model_version, value, lower, upper FROM forecast "
            f"WHERE meter_type = ? AND meter_id = ?{where} ORDER BY ts, model_version"
        )
        with self._cursor() as cur:
            frame = cur.execute(sql, [MeterType(meter_type).value, meter_id, *params]).df()
        if frame.empty:
            return forecast_layout.empty_forecast()
        index = pd.DatetimeIndex(frame.pop("ts")).tz_localize("UTC").rename("timestamp")
        return frame.set_index(index).astype({"value": "float64", "lower": "float64", "upper": "float64"})

    # retention (issue 14) ---------------------------------------------------------------------
    def delete_forecast_before(self, meter_type: MeterType, before: pd.Timestamp) -> None:
        stamp = pd.Timestamp(before).tz_convert("UTC").tz_localize(None).to_pydatetime()
        with self.batch(), self._cursor() as cur:
            cur.execute(
                "DELETE FROM forecast WHERE meter_type = ? AND ts < ?", [MeterType(meter_type).value, stamp]
            )

    def close(self) -> None:
        with self._lock:
            self._con.close()  # idempotent: closing a closed connection is a no-op

    # helpers ------------------------------------------------------------------------------------
    def _upsert(self, table: str, frame: pd.DataFrame, keys: list[str]) -> int:
        """Replace the (key, hour) rows of ``frame`` in one transaction.

        The tables carry no primary key: an ART index makes bulk inserts ~6x slower, while a
        delete bounded by key and time range (pruned by zone maps) followed by an append keeps
        the same upsert semantics.
        """
        if frame.empty:
            return 0
        if frame.iloc[:, -1].isna().any():
            raise ValueError(f"{table}: refusing to write empty values (gaps stay gaps)")
        key_values = [frame[k].iloc[0] for k in keys]
        first, last = frame["ts"].min(), frame["ts"].max()
        key_clause = " AND ".join(f"t.{k} = ?" for k in keys)
        with self.batch(), self._cursor() as cur:
            cur.register("staging", frame)
            try:
                cur.execute(
                    f"DELETE FROM {table} t WHERE {key_clause} AND t.ts BETWEEN ? AND ? "
                    "AND t.ts IN (SELECT ts FROM staging)",
                    [*key_values, first.to_pydatetime(), last.to_pydatetime()],
                )
                cur.execute(f"INSERT INTO {table} SELECT * FROM staging")
            finally:
                cur.unregister("staging")
        return len(frame)

    def _whole_series(self, key: Hashable, sql: str, params: list[object], name: str) -> pd.Series:
        def read() -> tuple[pd.Series, int]:
            with self._cursor() as cur:
                ts, values = self._fetch_columns(cur, sql, params)
            series = make_series(ts, values, name)
            return series, len(series)

        series = self._cached(key, read)
        assert isinstance(series, pd.Series)
        return series

    def _registry(self, key: Hashable, table: str, row_type: Callable[..., _Row]) -> dict[str, _Row]:
        """Every row of a registry table by id, sorted (the first column is the id)."""

        def read() -> tuple[dict[str, _Row], int]:
            with self._cursor() as cur:
                rows = cur.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            return {row[0]: row_type(*row) for row in rows}, len(rows)

        return self._cached(key, read)  # type: ignore[return-value]

    @staticmethod
    def _fetch_columns(
        cur: duckdb.DuckDBPyConnection, sql: str, params: list[object]
    ) -> tuple[np.ndarray, np.ndarray]:
        result = cur.execute(sql, params).fetchnumpy()
        ts = np.asarray(result["ts"], dtype="datetime64[us]")
        values = np.asarray(result[list(result)[1]], dtype="float64")
        return ts, values


def _readings_key(meter_type: MeterType, meter_id: str) -> tuple[str, str, str]:
    return ("readings", MeterType(meter_type).value, meter_id)


def _between(series: pd.Series, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.Series:
    """A copy of ``start <= t < end`` of a cached whole series (the cached one stays untouched)."""
    bounds = [None if t is None else pd.Timestamp(t).tz_convert("UTC") for t in (start, end)]
    return between(series, *bounds).copy()


def _utc(value: object) -> pd.Timestamp | None:
    if value is None:
        return None
    return pd.Timestamp(value).tz_localize("UTC")
