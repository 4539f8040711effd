"""InfluxDB ``SeriesStore`` over the v1 HTTP API (``/write`` line protocol, ``/query`` InfluxQL).

Layout (the seed's):

- ``electricity_consumption`` / ``water_consumption``: tag ``meter_id``, field ``consumption``;
- ``temperature_data``: tag ``site_id``, field ``temperature``;
- ``meter_registry``: tag ``meter_id``; string fields ``meter_type``, ``site_id``, ``unit``,
  ``timezone``; float fields ``latitude``, ``longitude``; every entry at time 0, so an upsert
  overwrites it.
- ``site_registry``: tag ``site_id``; float fields ``latitude``, ``longitude``, string fields
  ``city``, ``timezone``, ``country`` (empty string = none); at time 0 like the meter registry.

A point is keyed by (measurement, tag set, time), so re-writing a point replaces it: writes are
idempotent upserts without a read. Timestamps go out with ``precision=s`` and come back with
``epoch=s``: the contract's whole hours survive exactly and the payloads stay small.

Ids are validated slugs before they reach line protocol or InfluxQL, and are escaped as well:
validation is what stops injection, escaping is what keeps free text (``unit``) well formed.

The same client speaks to InfluxDB 1.x and to the v1-compatibility endpoints of 2.x and 3.x:

- auth: ``token`` sends ``Authorization: Token …`` (2.x/3.x tokens, 1.x with a JWT shared secret);
  ``username``/``password`` send HTTP basic auth (1.x users; on 2.x any username plus the token
  as password). Credentials never travel in the query string, so they cannot leak into URLs.
- database: 1.x creates it on first use (``CREATE DATABASE`` is idempotent); 2.x refuses the
  statement and the database must be a bucket with a DBRP mapping; 3.x creates it on first write.
  A refused ``CREATE DATABASE`` is therefore tolerated, not raised.
- deletes: InfluxQL ``DELETE`` exists only in 1.x. 2.x answers it with an error (use
  ``/api/v2/delete``), 3.x cannot delete points; both surface as ``StorageError``.
- retention: registry entries sit at time 0, so on 2.x the bucket needs infinite retention.
"""

from __future__ import annotations

import threading
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
    validate_slug,
)
from energy_forecast.domain.series import SeriesStats, empty_series, make_series
from energy_forecast.domain.sites import Site
from energy_forecast.errors import StorageError
from energy_forecast.storage import forecast_layout
from energy_forecast.storage import influx_protocol as lp

REGISTRY = lp.REGISTRY
TEMPERATURE = "temperature_data"
_READ_CHUNK_ROWS = 100_000


class InfluxSeriesStore:
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
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError(f"InfluxDB url must be http(s)://host[:port], got scheme {parsed.scheme!r}")
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        if username is None and parsed.username:
            username, password = parsed.username, parsed.password
        self._database = validate_slug(database, "database")
        port = f":{parsed.port}" if parsed.port else ""
        # Shown in errors: scheme, host and port only, never userinfo.
        self._display = f"{parsed.scheme}://{parsed.host}{port}"
        self._base = f"{self._display}{parsed.path.rstrip('/')}"
        self._secrets = [s for s in (token, password, parsed.password) if s]
        self._headers = {"Authorization": f"Token {token}"} if token else {}
        self._auth = httpx.BasicAuth(username, password or "") if username and not token else None
        self._timeout_s = timeout_s
        self._batch_size = batch_size
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout_s)
        self._database_ready = False
        self._closed = False
        self._local = threading.local()

    # transport ----------------------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _send(
        self,
        path: str,
        method: str = "POST",
        *,
        params: dict[str, str],
        content: bytes | None = None,
        data: dict[str, str] | None = None,
    ) -> httpx.Response:
        if self._closed:
            raise StorageError(f"InfluxDB store for {self._display} is closed")
        try:
            response = self._client.request(
                method,
                self._base + path,
                params=params,
                content=content,
                data=data,
                headers=self._headers,
                auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
                timeout=self._timeout_s,
            )
        except httpx.TimeoutException as exc:
            detail = self._scrub(str(exc) or type(exc).__name__)
            raise StorageError(
                f"InfluxDB at {self._display} timed out after {self._timeout_s:g}s: {detail}"
            ) from exc
        except httpx.TransportError as exc:
            detail = self._scrub(str(exc) or type(exc).__name__)
            raise StorageError(f"InfluxDB at {self._display} unreachable: {detail}") from exc
        if response.status_code >= 300:
            raise StorageError(self._http_problem(path, response))
        return response

    def _http_problem(self, path: str, response: httpx.Response) -> str:
        try:
            detail = str(response.json().get("error", ""))
        except (ValueError, AttributeError):
            detail = response.text[:300]
        code = response.status_code
        hint = {
            401: "authentication failed; check the token or username/password",
            403: "permission denied for this token or user",
            413: "request body too large; lower batch_size",
        }.get(code, "request refused")
        return self._scrub(f"InfluxDB at {self._display} {path}: HTTP {code}, {hint}: {detail}".rstrip(": "))

    def _ensure_database(self) -> None:
        if self._database_ready:
            return
        try:
            self._send("/query", params={}, data={"q": f"CREATE DATABASE {lp.ident(self._database)}"})
        except StorageError as exc:
            # 2.x refuses CREATE DATABASE (the bucket must pre-exist), 1.x non-admin users get 403.
            # Both are fine if the database exists; a wrong credential or a dead server is not.
            cause = exc.__cause__
            if isinstance(cause, httpx.TransportError) or "HTTP 401" in exc.message:
                raise
        self._database_ready = True

    def _query(self, statements: list[str], *, chunked: bool = False) -> dict[int, list[lp.Series]]:
        """Run InfluxQL statements in one request; series per statement id, chunks merged."""
        self._ensure_database()
        self._flush_batch()
        params = {"db": self._database, "epoch": "s"}
        if chunked:
            params |= {"chunked": "true", "chunk_size": str(_READ_CHUNK_ROWS)}
        response = self._send("/query", params=params, data={"q": ";\n".join(statements)})
        merged: dict[int, dict[tuple[str, tuple[tuple[str, str], ...]], lp.Series]] = {}
        for obj in lp.decode_objects(response.text):
            if "error" in obj:
                raise StorageError(self._scrub(f"InfluxDB at {self._display} query failed: {obj['error']}"))
            for result in obj.get("results", []):
                if "error" in result:
                    raise StorageError(
                        self._scrub(f"InfluxDB at {self._display} query failed: {result['error']}")
                    )
                by_key = merged.setdefault(int(result.get("statement_id", 0)), {})
                for raw in result.get("series", []):
                    tags = raw.get("tags") or {}
                    key = (raw.get("name", ""), tuple(sorted(tags.items())))
                    found = by_key.setdefault(key, lp.Series(key[0], tags, raw["columns"]))
                    found.values.extend(raw.get("values") or [])
        return {sid: list(series.values()) for sid, series in merged.items()}

    def _post_lines(self, body: str) -> None:
        self._send("/write", params={"db": self._database, "precision": "s"}, content=body.encode("utf-8"))

    def _write(self, bodies: Iterator[tuple[str, int]]) -> None:
        """Send line protocol now, or hand it to the open ``batch()`` of this thread."""
        self._ensure_database()
        batch_writer: lp.Writer | None = getattr(self._local, "writer", None)
        writer = batch_writer or lp.Writer(self._post_lines, self._batch_size)
        try:
            for body, lines in bodies:
                writer.add(body, lines)
        except BaseException:
            if batch_writer is None:
                writer.finish(discard=True)
            raise
        if batch_writer is None:
            writer.finish()

    def _flush_batch(self) -> None:
        # Reads and deletes inside a batch must see (and come after) the writes before them.
        writer: lp.Writer | None = getattr(self._local, "writer", None)
        if writer is not None:
            writer.drain()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Coalesce the writes of this thread into POSTs of ``batch_size`` lines.

        InfluxDB has no transactions. Writes are buffered and sent in full batches while the
        block runs (several meters per POST, formatting overlapping the server's ingest); an
        exception discards what is still buffered, but batches already sent stay. Re-running an
        import completes it, since every write is an idempotent upsert.
        """
        if getattr(self._local, "writer", None) is not None:
            yield
            return
        writer = lp.Writer(self._post_lines, self._batch_size)
        self._local.writer = writer
        try:
            yield
        except BaseException:
            self._local.writer = None
            writer.finish(discard=True)
            raise
        self._local.writer = None
        writer.finish()

    # SeriesStore --------------------------------------------------------------------------------
    def ping(self) -> None:
        self._send("/ping", "GET", params={})

    def upsert_meters(self, meters: list[Meter]) -> None:
        if not meters:
            return
        latest = {m.meter_id: m for m in meters}
        # Fields absent from a new point keep their old value, so coordinates being removed
        # must be deleted first; everything else is overwritten by the point at time 0.
        losing = [
            old.meter_id
            for old in self._select_meters(list(latest))
            if (old.latitude is not None and latest[old.meter_id].latitude is None)
            or (old.longitude is not None and latest[old.meter_id].longitude is None)
        ]
        for ids in lp.chunks(losing, lp.OR_CHUNK):
            self._query([f"DELETE FROM {lp.ident(REGISTRY)} WHERE {lp.id_filter('meter_id', ids)}"])
        self._write(iter([("\n".join(lp.registry_line(m) for m in latest.values()), len(latest))]))

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
        for series_list in self._query(statements).values():
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
        self._query([f"DELETE FROM {lp.ident(measurement)} WHERE {where}"])

    def data_version(self, meter_type: MeterType, meter_id: str, site_id: str) -> Hashable | None:
        # Workers, imports and other API processes write to the same server: nothing here can tell.
        return None

    def readings_stats(self, meter_type: MeterType | None = None) -> dict[str, SeriesStats]:
        types = list(MeterType) if meter_type is None else [MeterType(meter_type)]
        return self._stats([t.measurement for t in types], "consumption", "meter_id")

    def write_temperature(self, site_id: str, temperature: pd.Series) -> int:
        prefix = f"{TEMPERATURE},site_id={lp.escape_key(validate_site_id(site_id))} temperature="
        return self._write_series(prefix, temperature)

    def read_temperature(
        self, site_id: str, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None
    ) -> pd.Series:
        where = lp.id_filter("site_id", [validate_site_id(site_id)]) + lp.time_clause(start, end)
        return self._read_series(
            f"SELECT temperature FROM {lp.ident(TEMPERATURE)} WHERE {where}", "temperature"
        )

    def delete_temperature(self, site_id: str, start: pd.Timestamp, end: pd.Timestamp) -> None:
        where = lp.id_filter("site_id", [validate_site_id(site_id)]) + lp.time_clause(start, end)
        self._query([f"DELETE FROM {lp.ident(TEMPERATURE)} WHERE {where}"])

    def temperature_stats(self) -> dict[str, SeriesStats]:
        return self._stats([TEMPERATURE], "temperature", "site_id")

    def upsert_site(self, site: Site) -> None:
        self._write(iter([(lp.site_line(site), 1)]))

    def get_site(self, site_id: str) -> Site | None:
        where = lp.id_filter("site_id", [validate_site_id(site_id)])
        found = self._select_sites(f"SELECT * FROM {lp.ident(lp.SITES)} WHERE {where}")
        return found[0] if found else None

    def list_sites(self) -> list[Site]:
        return self._select_sites(f"SELECT * FROM {lp.ident(lp.SITES)}")

    def _select_sites(self, statement: str) -> list[Site]:
        sites = {
            row["site_id"]: lp.site_from_row(row)
            for series in self._query([statement]).get(0, [])
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
        lines = []
        for stamp, value, lower, upper in zip(
            seconds, points["value"].tolist(), points["lower"].tolist(), points["upper"].tolist(), strict=True
        ):
            fields = f"value={value!r}"
            if np.isfinite(lower):
                fields += f",lower={lower!r}"
            if np.isfinite(upper):
                fields += f",upper={upper!r}"
            lines.append(f"{tags} {fields} {stamp}")
        self._write(iter([("\n".join(lines), len(lines))]))
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
        statement = (
            f"SELECT value, lower, upper FROM {lp.ident(forecast_layout.MEASUREMENT)} "
            f"WHERE {where} GROUP BY {lp.ident('model_version')}"
        )
        frames = []
        for series in self._query([statement], chunked=True).get(0, []):
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
        return frame[list(forecast_layout.COLUMNS)].astype(
            {"value": "float64", "lower": "float64", "upper": "float64"}
        )

    # retention (issue 14) ---------------------------------------------------------------------
    def delete_forecast_before(self, meter_type: MeterType, before: pd.Timestamp) -> None:
        where = f"{lp.ident('meter_type')} = {lp.literal(MeterType(meter_type).value)}" + lp.time_clause(
            None, before
        )
        self._query([f"DELETE FROM {lp.ident(forecast_layout.MEASUREMENT)} WHERE {where}"])

    def close(self) -> None:
        self._closed = True
        if self._owns_client:
            self._client.close()

    # helpers ------------------------------------------------------------------------------------
    def _write_series(self, prefix: str, series: pd.Series) -> int:
        if series.empty:
            return 0
        count = int((~series.index.duplicated(keep="last")).sum())
        self._write(lp.line_batches(prefix, series, self._batch_size))
        return count

    def _read_series(self, statement: str, name: str) -> pd.Series:
        rows: list[list[Any]] = []
        for series in self._query([statement], chunked=True).get(0, []):
            rows.extend(series.values)
        if not rows:
            return empty_series(name)
        table = np.array(rows, dtype="float64")
        seconds = table[:, 0].astype("int64").astype("datetime64[s]")
        return make_series(seconds, table[:, 1], name)

    def _stats(self, measurements: list[str], field_name: str, tag: str) -> dict[str, SeriesStats]:
        # Three statements per measurement, one request. count() must stand alone: mixed with a
        # selector, InfluxQL reports the query's start time instead of the points' times.
        statements = [
            f"SELECT {fn}({lp.ident(field_name)}) FROM {lp.ident(m)} GROUP BY {lp.ident(tag)}"
            for m in measurements
            for fn in ("count", "first", "last")
        ]
        results = self._query(statements)
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
