"""DuckDB's side of the embedded store: the schema, one shared connection, transactions, staged upserts.

``duckdb_store`` says *what* is stored (registry, readings, temperature, forecasts) and keeps reads
in memory; this module says *how* it reaches the file. A DuckDB transaction belongs to one
connection, so every call shares one, serialised by a re-entrant lock (``batch`` holds it across
many writes). Timestamps are stored as naive ``TIMESTAMP`` holding UTC; the helpers at the bottom
convert on the way in and out.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from energy_forecast.errors import StorageError
from energy_forecast.logging import get_logger

log = get_logger(__name__)

SCHEMA = """
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
    latitude DOUBLE,
    longitude DOUBLE,
    city VARCHAR,
    timezone VARCHAR NOT NULL,
    country VARCHAR
);
-- How a meter reports (interval amounts or a cumulative register) and its native interval.
ALTER TABLE meters ADD COLUMN IF NOT EXISTS reading_kind VARCHAR DEFAULT 'interval';
ALTER TABLE meters ADD COLUMN IF NOT EXISTS interval_minutes INTEGER;
-- Sites registered by an import have no coordinates yet; files made before that get them nullable.
ALTER TABLE sites ALTER latitude DROP NOT NULL;
ALTER TABLE sites ALTER longitude DROP NOT NULL;
CREATE TABLE IF NOT EXISTS forecast (
    meter_type VARCHAR NOT NULL,
    meter_id VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL,
    lower DOUBLE,
    upper DOUBLE,
    value DOUBLE NOT NULL
);
-- Forecast quantiles as a JSON object {"p10": ..}; files made before quantiles get the column.
ALTER TABLE forecast ADD COLUMN IF NOT EXISTS quantiles VARCHAR;
-- Groups of meters (domain.groups): member ids ';'-joined (ids are slugs, never holding ';').
CREATE TABLE IF NOT EXISTS meter_groups (
    group_id VARCHAR PRIMARY KEY,
    meter_type VARCHAR NOT NULL,
    meter_ids VARCHAR NOT NULL,
    member_groups VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    description VARCHAR NOT NULL
);
"""


class DuckDBConnection:
    """One connection to a DuckDB file (or ``:memory:``), shared by every thread under one lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(self.path)
        except duckdb.Error as exc:
            raise StorageError(f"cannot open DuckDB file {self.path}: {exc}") from exc
        if self.path != ":memory:":
            os.chmod(self.path, 0o600)  # every reading is in it: the owner's alone
        self.lock = threading.RLock()
        self._in_transaction = False
        self._con.execute(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction around the block; a nested call joins the one already open."""
        with self.lock:
            if self._in_transaction:
                yield
                return
            self._con.execute("BEGIN TRANSACTION")
            self._in_transaction = True
            try:
                yield
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            else:
                self._con.execute("COMMIT")
            finally:
                self._in_transaction = False

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The shared connection under the lock, for statements that return no rows.

        Queries go through ``fetchall``/``fetch_columns``/``fetch_df``, which read every row: a
        result left half read (``fetchone``) makes the next ``register`` on this shared connection
        fail with "connection has an unfinished result", whichever thread comes next.
        """
        with self.lock:
            try:
                yield self._con
            except duckdb.Error as exc:
                # DuckDB's text names tables, values and file paths: the log gets it, the caller
                # (an HTTP 503) only its kind.
                log.warning("duckdb_error", error=type(exc).__name__, message=str(exc))
                raise StorageError(
                    f"the embedded store (DuckDB) failed with {type(exc).__name__}; "
                    "the server log has the details"
                ) from exc

    def fetchall(self, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
        with self.cursor() as cur:
            return cur.execute(sql, params or []).fetchall()

    def fetch_df(self, sql: str, params: list[object]) -> pd.DataFrame:
        with self.cursor() as cur:
            return cur.execute(sql, params).df()

    def ping(self) -> None:
        self.fetchall("SELECT 1")

    def upsert(self, table: str, frame: pd.DataFrame, keys: list[str]) -> int:
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
        with self.transaction(), self.cursor() as cur:
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

    def fetch_columns(self, sql: str, params: list[object]) -> tuple[np.ndarray, np.ndarray]:
        """The ``ts`` column and the second column of a query, as numpy arrays."""
        with self.cursor() as cur:
            result = cur.execute(sql, params).fetchnumpy()
        ts = np.asarray(result["ts"], dtype="datetime64[us]")
        values = np.asarray(result[list(result)[1]], dtype="float64")
        return ts, values

    def close(self) -> None:
        with self.lock:
            self._con.close()  # idempotent: closing a closed connection is a no-op


def naive_utc(values: pd.DatetimeIndex) -> np.ndarray:
    return values.tz_convert("UTC").tz_localize(None).as_unit("us").to_numpy()


def bounds(start: pd.Timestamp | None, end: pd.Timestamp | None) -> tuple[str, list[object]]:
    """``AND ts >= ? AND ts < ?`` for the bounds given, and their parameters."""
    clauses, params = [], []
    if start is not None:
        clauses.append("ts >= ?")
        params.append(pd.Timestamp(start).tz_convert("UTC").tz_localize(None).to_pydatetime())
    if end is not None:
        clauses.append("ts < ?")
        params.append(pd.Timestamp(end).tz_convert("UTC").tz_localize(None).to_pydatetime())
    return "".join(f" AND {c}" for c in clauses), params


def utc(value: object) -> pd.Timestamp | None:
    if value is None:
        return None
    return pd.Timestamp(value).tz_localize("UTC")
