"""JSON over HTTP for weather providers: retries with backoff, ``Retry-After``, a response cache,
and one place that turns transport and HTTP failures into the domain's weather errors.

Retries cover what a retry can fix, 429 and 5xx: the wait is the server's ``Retry-After`` (seconds
or an HTTP date) when it sends one, else exponential backoff. A wait longer than ``max_wait`` is not
slept: the provider gives up at once so the chain can fall back instead of stalling a request.
Timeouts and network errors are not retried here for the same reason; the chain's cooldown keeps
an unreachable provider from being asked again on every request.

The cache keys on URL and parameters and keeps decoded JSON for a per-call time to live (forecasts
change every few hours, archives do not). Secrets passed as ``secrets`` are scrubbed from messages.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from energy_forecast.errors import WeatherAuthError, WeatherProviderError, WeatherUnavailableError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class ResponseCache:
    """Decoded JSON per request key with a time to live; least recently used evicted first."""

    def __init__(self, max_entries: int = 512, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if found[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key: str, value: Any, ttl: timedelta) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + ttl.total_seconds(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header as seconds from now (delta-seconds or HTTP date), or None."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _body_message(response: httpx.Response) -> str:
    # OpenWeatherMap: {"cod": 401, "message": "..."}; Open-Meteo: {"error": true, "reason": "..."}.
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, dict):
        for key in ("message", "reason", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
    return str(body)[:200]


class JsonFetcher:
    """GET JSON for one provider through an injected ``httpx.Client`` (which carries the timeouts)."""

    def __init__(
        self,
        provider: str,
        client: httpx.Client,
        *,
        max_retries: int = 3,
        backoff: timedelta = timedelta(seconds=0.5),
        max_wait: timedelta = timedelta(seconds=30),
        cache: ResponseCache | None = None,
        secrets: Sequence[str] = (),
        auth_hint: str = "check the API key",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = provider
        self._client = client
        self._max_retries = max_retries
        self._backoff = backoff.total_seconds()
        self._max_wait = max_wait.total_seconds()
        self._cache = cache if cache is not None else ResponseCache()
        self._secrets = [s for s in secrets if s]
        self._auth_hint = auth_hint
        self._sleep = sleep

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def get_json(self, url: str, params: dict[str, str], *, ttl: timedelta) -> Any:
        """Decoded JSON of a 2xx answer, from the cache when a fresh copy is there.

        Raises:
            WeatherAuthError: HTTP 401/403.
            WeatherUnavailableError: timeout, network error, or 429/5xx after the retries.
            WeatherProviderError: any other refusal, or a body that is not JSON.
        """
        key = url + "?" + str(httpx.QueryParams(sorted(params.items())))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        host = httpx.URL(url).host
        attempt = 0
        while True:
            try:
                response = self._client.get(url, params=params)
            except httpx.TimeoutException as exc:
                raise WeatherUnavailableError(
                    self.provider,
                    f"{host} did not answer in time ({type(exc).__name__}); it may be slow "
                    "or unreachable, so the next source is used",
                ) from exc
            except httpx.TransportError as exc:
                raise WeatherUnavailableError(
                    self.provider,
                    f"cannot reach {host} ({self._scrub(str(exc) or type(exc).__name__)}); "
                    "check the network or the provider URL setting",
                ) from exc
            status = response.status_code
            if status < 300:
                break
            message = self._scrub(_body_message(response))
            if status in (401, 403):
                raise WeatherAuthError(
                    self.provider, f"HTTP {status} from {host}: {message}; {self._auth_hint}"
                )
            if status not in RETRY_STATUSES:
                raise WeatherProviderError(self.provider, f"HTTP {status} from {host}: {message}")
            wait = retry_after_seconds(response)
            if wait is None:
                wait = self._backoff * 2**attempt
            if attempt >= self._max_retries or wait > self._max_wait:
                what = "rate limited" if status == 429 else "server error"
                raise WeatherUnavailableError(
                    self.provider,
                    f"{what} (HTTP {status}) from {host} after {attempt + 1} attempts: {message}",
                )
            attempt += 1
            self._sleep(wait)
        try:
            data = response.json()
        except ValueError as exc:
            raise WeatherProviderError(
                self.provider, f"{host} answered with a body that is not JSON"
            ) from exc
        self._cache.put(key, data, ttl)
        return data
