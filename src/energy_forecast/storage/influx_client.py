"""The InfluxDB v1 HTTP transport under ``influx_store``: auth, errors, queries and batched writes.

It knows the wire (``/query`` with InfluxQL, ``/write`` with line protocol, ``/ping``) and nothing
of the layout; the store turns meters, readings and sites into the statements and lines sent here.

The same client speaks to InfluxDB 1.x and to the v1-compatibility endpoints of 2.x and 3.x:

- auth: ``token`` sends ``Authorization: Token …`` (2.x/3.x tokens, 1.x with a JWT shared secret);
  ``username``/``password`` send HTTP basic auth (1.x users; on 2.x any username plus the token
  as password). Credentials never travel in the query string, so they cannot leak into URLs.
- database: 1.x creates it on first use (``CREATE DATABASE`` is idempotent); 2.x refuses the
  statement and the database must be a bucket with a DBRP mapping; 3.x creates it on first write.
  A refused ``CREATE DATABASE`` is therefore tolerated, not raised.
- errors: every failure (timeout, refused connection, HTTP status, error inside a result) is a
  ``StorageError`` naming scheme, host and port, with credentials scrubbed from the text.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from energy_forecast.domain.meters import validate_slug
from energy_forecast.errors import StorageError
from energy_forecast.storage import influx_protocol as lp

_READ_CHUNK_ROWS = 100_000


class InfluxHttp:
    """One database on one InfluxDB server, over its v1 HTTP API."""

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

    def ping(self) -> None:
        self._send("/ping", "GET", params={})

    def query(self, statements: list[str], *, chunked: bool = False) -> dict[int, list[lp.Series]]:
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

    def write(self, bodies: Iterator[tuple[str, int]]) -> None:
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
        """Coalesce the writes of this thread into POSTs of ``batch_size`` lines (see the store's)."""
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

    def close(self) -> None:
        self._closed = True
        if self._owns_client:
            self._client.close()
