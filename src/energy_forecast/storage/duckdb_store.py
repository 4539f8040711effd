"""Embedded default ``SeriesStore``: one DuckDB file under ``EF_HOME``, no server.

Timestamps are stored as naive ``TIMESTAMP`` holding UTC (DuckDB's ``TIMESTAMPTZ`` would render in
the session time zone); they are localised to UTC on the way out. Upserts go through a staging
frame (``duckdb_connection``): delete the same (meter, hour) rows, then append, inside one
transaction, so a failed write leaves nothing behind and a repeated write changes nothing. DuckDB
allows one writing process per file: the embedded mode runs API and workers in one process;
several processes need InfluxDB.
That single writer is also why reads are served from memory (``storage.read_cache``): each write
invalidates exactly the series or registry it changed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pandas as pd

from energy_forecast.domain.groups import Group, split_ids, validate_group_id
from energy_forecast.domain.meters import Meter, MeterType, validate_meter_id, validate_site_id
from energy_forecast.domain.series import SeriesStats, between, make_series
from energy_forecast.domain.sites import Site
from energy_forecast.storage import forecast_layout
from energy_forecast.storage.duckdb_connection import DuckDBConnection, bounds, naive_utc, utc
from energy_forecast.storage.read_cache import cache_for

_METERS = ("registry", "meters")
_SITES = ("registry", "sites")
_GROUPS = ("registry", "groups")
_Row = TypeVar("_Row", Meter, Site)


class DuckDBSeriesStore:
    """SeriesStore on a local DuckDB file (or ``:memory:``)."""

    def __init__(self, path: Path | str) -> None:
        self._db = DuckDBConnection(path)
        self._in_batch = False
        self._touched: set[Hashable] = set()
        self._cache = cache_for(self._db.path)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group many writes into one transaction: one commit instead of one per meter."""
        with self._db.lock:
            if self._in_batch:
                yield
                return
            self._in_batch = True
            try:
                with self._db.transaction():
                    yield
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

    def ping(self) -> None:
        self._db.ping()

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
                "reading_kind": [m.reading_kind.value for m in meters],
                "interval_minutes": pd.array([m.interval_minutes for m in meters], dtype="Int32"),
            }
        )
        with self._writing(_METERS), self._db.cursor() as cur:
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
                "ts": naive_utc(pd.DatetimeIndex(readings.index)),
                "consumption": readings.to_numpy(dtype="float64"),
            }
        )
        with self._writing(_readings_key(meter_type, meter_id)):
            return self._db.upsert("readings", frame, ["meter_type", "meter_id"])

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
        where, params = bounds(start, end)
        with self._writing(_readings_key(meter_type, meter_id)), self._db.cursor() as cur:
            cur.execute(
                f"DELETE FROM readings WHERE meter_type = ? AND meter_id = ?{where}",
                [MeterType(meter_type).value, meter_id, *params],
            )

    def readings_stats(
        self, meter_type: MeterType | None = None, meter_ids: list[str] | None = None
    ) -> dict[str, SeriesStats]:
        sql = "SELECT meter_id, count(*), min(ts), max(ts) FROM readings WHERE true"
        params: list[object] = []
        if meter_type is not None:
            sql += " AND meter_type = ?"
            params.append(MeterType(meter_type).value)
        if meter_ids is not None:
            if not meter_ids:
                return {}
            sql += " AND meter_id IN (SELECT unnest(?))"
            params.append([validate_meter_id(m) for m in meter_ids])
        rows = self._db.fetchall(sql + " GROUP BY meter_id", params)
        return {r[0]: SeriesStats(r[0], int(r[1]), utc(r[2]), utc(r[3])) for r in rows}

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
                "ts": naive_utc(pd.DatetimeIndex(temperature.index)),
                "temperature": temperature.to_numpy(dtype="float64"),
            }
        )
        with self._writing(("temperature", site_id)):
            return self._db.upsert("temperature", frame, ["site_id"])

    def read_temperature(
        self, site_id: str, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
    ) -> pd.Series:
        validate_site_id(site_id)
        sql = "SELECT ts, temperature FROM temperature WHERE site_id = ? ORDER BY ts"
        series = self._whole_series(("temperature", site_id), sql, [site_id], "temperature")
        return _between(series, start, end)

    def delete_temperature(self, site_id: str, start: pd.Timestamp, end: pd.Timestamp) -> None:
        validate_site_id(site_id)
        where, params = bounds(start, end)
        with self._writing(("temperature", site_id)), self._db.cursor() as cur:
            cur.execute(f"DELETE FROM temperature WHERE site_id = ?{where}", [site_id, *params])

    def temperature_stats(self) -> dict[str, SeriesStats]:
        sql = "SELECT site_id, count(*), min(ts), max(ts) FROM temperature GROUP BY site_id"
        rows = self._db.fetchall(sql)
        return {r[0]: SeriesStats(r[0], int(r[1]), utc(r[2]), utc(r[3])) for r in rows}

    # sites --------------------------------------------------------------------------------------
    def upsert_site(self, site: Site) -> None:
        with self._writing(_SITES), self._db.cursor() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO sites VALUES (?, ?, ?, ?, ?, ?)",
                [site.site_id, site.latitude, site.longitude, site.city, site.timezone, site.country],
            )

    def get_site(self, site_id: str) -> Site | None:
        validate_site_id(site_id)
        return self._registry(_SITES, "sites", Site).get(site_id)

    def list_sites(self) -> list[Site]:
        return list(self._registry(_SITES, "sites", Site).values())

    # groups -------------------------------------------------------------------------------------
    def put_groups(self, groups: list[Group]) -> None:
        """Create or replace ``groups`` in one transaction (all or nothing)."""
        rows = [
            [
                g.group_id,
                g.meter_type.value,
                ";".join(g.meter_ids),
                ";".join(g.groups),
                g.source,
                g.description,
            ]
            for g in groups
        ]
        with self._writing(_GROUPS), self._db.transaction(), self._db.cursor() as cur:
            for row in rows:
                cur.execute("INSERT OR REPLACE INTO meter_groups VALUES (?, ?, ?, ?, ?, ?)", row)

    def delete_group(self, group_id: str) -> None:
        validate_group_id(group_id)
        with self._writing(_GROUPS), self._db.cursor() as cur:
            cur.execute("DELETE FROM meter_groups WHERE group_id = ?", [group_id])

    def get_group(self, group_id: str) -> Group | None:
        return self._groups().get(validate_group_id(group_id))

    def list_groups(self) -> list[Group]:
        return list(self._groups().values())

    def _groups(self) -> dict[str, Group]:
        def read() -> tuple[dict[str, Group], int]:
            rows = self._db.fetchall("SELECT * FROM meter_groups ORDER BY 1")
            found = {
                r[0]: Group(r[0], MeterType(r[1]), split_ids(r[2]), split_ids(r[3]), r[4], r[5]) for r in rows
            }
            return found, len(rows)

        return self._cached(_GROUPS, read)  # type: ignore[return-value]

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
                "ts": naive_utc(pd.DatetimeIndex(points.index)),
                "lower": points["lower"].to_numpy(),
                "upper": points["upper"].to_numpy(),
                "value": points["value"].to_numpy(),
                "quantiles": forecast_layout.quantiles_json(points),
            }
        )
        return self._db.upsert("forecast", frame, ["meter_type", "meter_id", "model_version"])

    def read_forecast(
        self,
        meter_type: MeterType,
        meter_id: str,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        validate_meter_id(meter_id)
        where, params = bounds(start, end)
        sql = (
            "SELECT ts, model_version, value, lower, upper, quantiles FROM forecast "
            f"WHERE meter_type = ? AND meter_id = ?{where} ORDER BY ts, model_version"
        )
        frame = self._db.fetch_df(sql, [MeterType(meter_type).value, meter_id, *params])
        if frame.empty:
            return forecast_layout.empty_forecast()
        index = pd.DatetimeIndex(frame.pop("ts")).tz_localize("UTC").rename("timestamp")
        quantiles = forecast_layout.quantiles_from_json(frame.pop("quantiles").tolist())
        frame = frame.set_index(index).astype({"value": "float64", "lower": "float64", "upper": "float64"})
        for key in quantiles.columns:  # by position: hours repeat across model versions
            frame[key] = quantiles[key].to_numpy()
        return frame

    # retention --------------------------------------------------------------------------------
    def delete_forecast_before(self, meter_type: MeterType, before: pd.Timestamp) -> None:
        stamp = pd.Timestamp(before).tz_convert("UTC").tz_localize(None).to_pydatetime()
        with self._db.cursor() as cur:  # forecast reads are not cached, so nothing to invalidate
            cur.execute(
                "DELETE FROM forecast WHERE meter_type = ? AND ts < ?", [MeterType(meter_type).value, stamp]
            )

    def close(self) -> None:
        self._db.close()

    # helpers ------------------------------------------------------------------------------------
    def _whole_series(self, key: Hashable, sql: str, params: list[object], name: str) -> pd.Series:
        def read() -> tuple[pd.Series, int]:
            ts, values = self._db.fetch_columns(sql, params)
            series = make_series(ts, values, name)
            return series, len(series)

        series = self._cached(key, read)
        assert isinstance(series, pd.Series)
        return series

    def _registry(self, key: Hashable, table: str, row_type: Callable[..., _Row]) -> dict[str, _Row]:
        """Every row of a registry table by id, sorted (the first column is the id)."""

        def read() -> tuple[dict[str, _Row], int]:
            rows = self._db.fetchall(f"SELECT * FROM {table} ORDER BY 1")
            return {row[0]: row_type(*row) for row in rows}, len(rows)

        return self._cached(key, read)  # type: ignore[return-value]


def _readings_key(meter_type: MeterType, meter_id: str) -> tuple[str, str, str]:
    return ("readings", MeterType(meter_type).value, meter_id)


def _between(series: pd.Series, start: pd.Timestamp | None, end: pd.Timestamp | None) -> pd.Series:
    """A copy of ``start <= t < end`` of a cached whole series (the cached one stays untouched)."""
    window = [None if t is None else pd.Timestamp(t).tz_convert("UTC") for t in (start, end)]
    return between(series, *window).copy()
