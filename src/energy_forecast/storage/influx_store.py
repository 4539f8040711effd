"""InfluxDB ``SeriesStore`` over the v1 HTTP API (``/write`` line protocol, ``/query`` InfluxQL).

Layout (the seed's):

- ``electricity_consumption`` / ``water_consumption``: tag ``meter_id``, field ``consumption``;
- ``temperature_data``: tag ``site_id``, field ``temperature``;
- ``meter_registry``: tag ``meter_id``; string fields ``meter_type``, ``site_id``, ``unit``,
  ``timezone``; float fields ``latitude``, ``longitude``; every entry at time 0, so an upsert
  overwrites it.
- ``site_registry``: tag ``site_id``; float fields ``latitude``, ``longitude`` (absent until a
  site registered by an import gets coordinates), string fields ``city``, ``timezone``,
  ``country`` (empty string = none); at time 0 like the meter registry.

A point is keyed by (measurement, tag set, time), so re-writing a point replaces it: writes are
idempotent upserts without a read. Timestamps go out with ``precision=s`` and come back with
``epoch=s``: the contract's whole hours survive exactly and the payloads stay small.

Ids are validated slugs before they reach line protocol or InfluxQL, and are escaped as well:
validation is what stops injection, escaping is what keeps free text (``unit``) well formed.

The wire (auth, database creation, errors, batched POSTs) is ``influx_client.InfluxHttp``; the
line protocol and InfluxQL pieces are ``influx_protocol``. What stays here is the layout.

- deletes: InfluxQL ``DELETE`` exists only in 1.x. 2.x answers it with an error (use
  ``/api/v2/delete``), 3.x cannot delete points; both surface as ``StorageError``.
- retention: registry entries sit at time 0, so on 2.x the bucket needs infinite retention.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import numpy as np
import pandas as pd

from energy_forecast.domain.meters import (
    Meter,
    MeterType,
    validate_meter_id,
    validate_site_id,
)
from energy_forecast.domain.series import SeriesStats, between, empty_series, make_series
from energy_forecast.domain.sites import Site
from energy_forecast.storage import forecast_layout
from energy_forecast.storage import influx_protocol as lp
from energy_forecast.storage.influx_client import InfluxHttp
from energy_forecast.storage.influx_groups import InfluxGroups
from energy_forecast.storage.influx_temperature_cache import Fingerprint, TemperatureCache, wide

REGISTRY = lp.REGISTRY
TEMPERATURE = "temperature_data"


class InfluxSeriesStore(InfluxGroups):
    """SeriesStore on InfluxDB's v1 HTTP API (1.x, and the v1-compatible endpoints of 2.x/3.x)."""

    def __init__(
        self,
        url: str,
        database: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
        batch_size: int = 50_000,
        client: httpx.Client | None = None,
    ) -> None:
        self._http = InfluxHttp(
            url,
            database,
            token=token,
            username=username,
            password=password,
            timeout_s=timeout_s,
            batch_size=batch_size,
            client=client,
        )
        self._batch_size = batch_size
        self._temperatures = TemperatureCache()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Coalesce the writes of this thread into POSTs of ``batch_size`` lines.

        InfluxDB has no transactions. Writes are buffered and sent in full batches while the
        block runs (several meters per POST, formatting overlapping the server's ingest); an
        exception discards what is still buffered, but batches already sent stay. Re-running an
        import completes it, since every write is an idempotent upsert.
        """
        with self._http.batch():
            yield

    # SeriesStore --------------------------------------------------------------------------------
    def ping(self) -> None:
        self._http.ping()

    def upsert_meters(self, meters: list[Meter]) -> None:
        if not meters:
            return
        latest = {m.meter_id: m for m in meters}
        # Fields absent from a new point keep their old value, so coordinates (or an interval)
        # being removed must be deleted first; everything else is overwritten by the point at time 0.
        losing = [
            old.meter_id
            for old in self._select_meters(list(latest))
            if (old.latitude is not None and latest[old.meter_id].latitude is None)
            or (old.longitude is not None and latest[old.meter_id].longitude is None)
            or (old.interval_minutes is not None and latest[old.meter_id].interval_minutes is None)
        ]
        for ids in lp.chunks(losing, lp.OR_CHUNK):
            self._http.query([f"DELETE FROM {lp.ident(REGISTRY)} WHERE {lp.id_filter('meter_id', ids)}"])
        self._http.write(iter([("\n".join(lp.registry_line(m) for m in latest.values()), len(latest))]))

    def get_meter(self, meter_id: str) -> Meter | None:
        found = self._select_meters([validate_meter_id(meter_id)])
        return found[0] if found else None

    def list_meters(self) -> list[Meter]:
        return self._select_meters(None)

    def _select_meters(self, meter_ids: list[str] | None) -> list[Meter]:
        if meter_ids is None:
            statements = [f"SELECT * FROM {lp.ident(REGISTRY)}"]
        else:
            statements = [
                f"SELECT * FROM {lp.ident(REGISTRY)} WHERE {lp.id_filter('meter_id', ids)}"
                for ids in lp.chunks([validate_meter_id(m) for m in meter_ids], lp.OR_CHUNK)
            ]
        if not statements:
            return []
        meters = {}
        for series_list in self._http.query(statements).values():
            for series in series_list:
                for row in series.rows():
                    meters[row["meter_id"]] = Meter(
                        meter_id=row["meter_id"],
                        meter_type=MeterType(row["meter_type"]),
                        site_id=row.get("site_id") or "default",
                        unit=row.get("unit") or "",
                        timezone=row.get("timezone") or "UTC",
                        latitude=lp.float_or_none(row.get("latitude")),
                        longitude=lp.float_or_none(row.get("longitude")),
                        reading_kind=row.get("reading_kind") or "interval",
                        interval_minutes=_int_or_none(row.get("interval_minutes")),
                    )
        return [meters[k] for k in sorted(meters)]

    def write_readings(self, meter_type: MeterType, meter_id: str, readings: pd.Series) -> int:
        measurement = MeterType(meter_type).measurement
        prefix = (
            f"{lp.escape_key(measurement)},meter_id={lp.escape_key(validate_meter_id(meter_id))} consumption="
        )
        return self._write_series(prefix, readings)

    def read_readings(
        self,
        meter_type: MeterType,
        meter_id: str,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.Series:
        measurement = MeterType(meter_type).measurement
        where = lp.id_filter("meter_id", [validate_meter_id(meter_id)]) + lp.time_clause(start, end)
        return self._read_series(
            f"SELECT consumption FROM {lp.ident(measurement)} WHERE {where}", "consumption"
        )

    def delete_readings(
        self, meter_type: MeterType, meter_id: str, start: pd.Timestamp, end: pd.Timestamp
    ) -> None:
        measurement = MeterType(meter_type).measurement
        where = lp.id_filter("meter_id", [validate_meter_id(meter_id)]) + lp.time_clause(start, end)
        self._http.query([f"DELETE FROM {lp.ident(measurement)} WHERE {where}"])

    def data_version(self, meter_type: MeterType, meter_id: str, site_id: str) -> Hashable | None:
        # Workers, imports and other API processes write to the same server: nothing here can tell.
        return None

    def readings_stats(
        self, meter_type: MeterType | None = None, meter_ids: list[str] | None = None
    ) -> dict[str, SeriesStats]:
        types = list(MeterType) if meter_type is None else [MeterType(meter_type)]
        if meter_ids is None:
            return self._stats([t.measurement for t in types], "consumption", "meter_id")
        stats: dict[str, SeriesStats] = {}
        for ids in lp.chunks([validate_meter_id(m) for m in meter_ids], lp.OR_CHUNK):
            where = lp.id_filter("meter_id", ids)
            stats |= self._stats([t.measurement for t in types], "consumption", "meter_id", where)
        return dict(sorted(stats.items()))

    def write_temperature(self, site_id: str, temperature: pd.Series) -> int:
        prefix = f"{TEMPERATURE},site_id={lp.escape_key(validate_site_id(site_id))} temperature="
        self._temperatures.discard(site_id)
        return self._write_series(prefix, temperature)

    def read_temperature(
        self, site_id: str, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
    ) -> pd.Series:
        site = lp.id_filter("site_id", [validate_site_id(site_id)])
        select = f"SELECT temperature FROM {lp.ident(TEMPERATURE)} WHERE {site}"
        if not wide(start, end):
            return self._read_series(select + lp.time_clause(start, end), "temperature")
        # A wide window (training) goes through the kept whole-site series (influx_temperature_cache).
        fingerprint = f"SELECT count(temperature), sum(temperature) FROM {lp.ident(TEMPERATURE)} WHERE {site}"
        if site_id in self._temperatures:
            current = _fingerprint(self._http.query([fingerprint]).get(0, []))
            kept = self._temperatures.get(site_id, current)
            if kept is None:
                kept = self._series(self._http.query([select], chunked=True).get(0, []), "temperature")
                self._temperatures.put(site_id, current, kept)
        else:
            results = self._http.query([fingerprint, select], chunked=True)
            kept = self._series(results.get(1, []), "temperature")
            self._temperatures.put(site_id, _fingerprint(results.get(0, [])), kept)
        return between(kept, start, end).copy()  # callers own what they get

    def delete_temperature(self, site_id: str, start: pd.Timestamp, end: pd.Timestamp) -> None:
        where = lp.id_filter("site_id", [validate_site_id(site_id)]) + lp.time_clause(start, end)
        self._temperatures.discard(site_id)
        self._http.query([f"DELETE FROM {lp.ident(TEMPERATURE)} WHERE {where}"])

    def temperature_stats(self) -> dict[str, SeriesStats]:
        return self._stats([TEMPERATURE], "temperature", "site_id")

    def upsert_site(self, site: Site) -> None:
        if not site.has_coordinates:
            # Absent fields would keep their old values: coordinates being removed are deleted first.
            old = self.get_site(site.site_id)
            if old is not None and old.has_coordinates:
                where = lp.id_filter("site_id", [site.site_id])
                self._http.query([f"DELETE FROM {lp.ident(lp.SITES)} WHERE {where}"])
        self._http.write(iter([(lp.site_line(site), 1)]))

    def get_site(self, site_id: str) -> Site | None:
        where = lp.id_filter("site_id", [validate_site_id(site_id)])
        found = self._select_sites(f"SELECT * FROM {lp.ident(lp.SITES)} WHERE {where}")
        return found[0] if found else None

    def list_sites(self) -> list[Site]:
        return self._select_sites(f"SELECT * FROM {lp.ident(lp.SITES)}")

    def _select_sites(self, statement: str) -> list[Site]:
        sites = {
            row["site_id"]: lp.site_from_row(row)
            for series in self._http.query([statement]).get(0, [])
            for row in series.rows()
        }
        return [sites[k] for k in sorted(sites)]

    def write_forecast(
        self, meter_type: MeterType, meter_id: str, model_version: str, forecast: pd.DataFrame
    ) -> int:
        points = forecast_layout.check_forecast(forecast)
        if points.empty:
            return 0
        tags = (
            f"{forecast_layout.MEASUREMENT},meter_id={lp.escape_key(validate_meter_id(meter_id))},"
            f"meter_type={MeterType(meter_type).value},"
            f"model_version={lp.escape_key(forecast_layout.check_version(model_version))}"
        )
        seconds = points.index.as_unit("s").asi8.tolist()
        optional = ["lower", "upper", *forecast_layout.quantile_columns(points)]
        columns = [points[name].tolist() for name in optional]
        lines = []
        for row, (stamp, value) in enumerate(zip(seconds, points["value"].tolist(), strict=True)):
            fields = f"value={value!r}"
            for name, values in zip(optional, columns, strict=True):
                if np.isfinite(values[row]):
                    fields += f",{lp.escape_key(name)}={values[row]!r}"
            lines.append(f"{tags} {fields} {stamp}")
        self._http.write(iter([("\n".join(lines), len(lines))]))
        return len(lines)

    def read_forecast(
        self,
        meter_type: MeterType,
        meter_id: str,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        where = (
            lp.id_filter("meter_id", [validate_meter_id(meter_id)])
            + f" AND {lp.ident('meter_type')} = {lp.literal(MeterType(meter_type).value)}"
            + lp.time_clause(start, end)
        )
        statement = (  # every field: value, lower, upper and the quantiles (p10 ..) written
            f"SELECT * FROM {lp.ident(forecast_layout.MEASUREMENT)} "
            f"WHERE {where} GROUP BY {lp.ident('model_version')}"
        )
        frames = []
        for series in self._http.query([statement], chunked=True).get(0, []):
            if not series.values:
                continue
            table = pd.DataFrame(series.values, columns=series.columns)
            table["model_version"] = series.tags.get("model_version", "")
            frames.append(table)
        if not frames:
            return forecast_layout.empty_forecast()
        frame = pd.concat(frames, ignore_index=True)
        frame["timestamp"] = pd.to_datetime(frame.pop("time").astype("int64"), unit="s", utc=True)
        frame = frame.sort_values(["timestamp", "model_version"]).set_index("timestamp")
        for column in ("lower", "upper"):
            if column not in frame:
                frame[column] = np.nan
        keys = forecast_layout.quantile_columns(frame)
        return frame[[*forecast_layout.COLUMNS, *keys]].astype(
            {name: "float64" for name in ("value", "lower", "upper", *keys)}
        )

    # retention --------------------------------------------------------------------------------
    def delete_forecast_before(self, meter_type: MeterType, before: pd.Timestamp) -> None:
        where = f"{lp.ident('meter_type')} = {lp.literal(MeterType(meter_type).value)}" + lp.time_clause(
            None, before
        )
        self._http.query([f"DELETE FROM {lp.ident(forecast_layout.MEASUREMENT)} WHERE {where}"])

    def close(self) -> None:
        self._http.close()

    # helpers ------------------------------------------------------------------------------------
    def _write_series(self, prefix: str, series: pd.Series) -> int:
        if series.empty:
            return 0
        count = int((~series.index.duplicated(keep="last")).sum())
        self._http.write(lp.line_batches(prefix, series, self._batch_size))
        return count

    def _read_series(self, statement: str, name: str) -> pd.Series:
        return self._series(self._http.query([statement], chunked=True).get(0, []), name)

    @staticmethod
    def _series(result: list[lp.Series], name: str) -> pd.Series:
        rows: list[list[Any]] = []
        for series in result:
            rows.extend(series.values)
        if not rows:
            return empty_series(name)
        table = np.array(rows, dtype="float64")
        seconds = table[:, 0].astype("int64").astype("datetime64[s]")
        return make_series(seconds, table[:, 1], name)

    def _stats(
        self, measurements: list[str], field_name: str, tag: str, where: str | None = None
    ) -> dict[str, SeriesStats]:
        # Three statements per measurement, one request. count() must stand alone: mixed with a
        # selector, InfluxQL reports the query's start time instead of the points' times.
        condition = f" WHERE {where}" if where else ""
        statements = [
            f"SELECT {fn}({lp.ident(field_name)}) FROM {lp.ident(m)}{condition} GROUP BY {lp.ident(tag)}"
            for m in measurements
            for fn in ("count", "first", "last")
        ]
        results = self._http.query(statements)
        count: dict[str, int] = {}
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for sid, series_list in results.items():
            kind = sid % 3
            for series in series_list:
                key = series.tags.get(tag)
                if key is None or not series.values:
                    continue
                stamp, value = series.values[0][0], series.values[0][1]
                if kind == 0:
                    count[key] = count.get(key, 0) + int(value)
                elif kind == 1:
                    first[key] = min(first.get(key, stamp), stamp)
                else:
                    last[key] = max(last.get(key, stamp), stamp)
        return {
            key: SeriesStats(key, n, lp.from_epoch(first.get(key)), lp.from_epoch(last.get(key)))
            for key, n in sorted(count.items())
            if n > 0
        }


def _fingerprint(result: list[lp.Series]) -> Fingerprint:
    """(count, sum) of a site's temperatures; (0, 0.0) when it has none."""
    for series in result:
        for row in series.rows():
            return int(row.get("count") or 0), float(row.get("sum") or 0.0)
    return 0, 0.0


def _int_or_none(value: object) -> int | None:
    return None if value is None else int(value)  # type: ignore[call-overload]
