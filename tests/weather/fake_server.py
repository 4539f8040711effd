"""A local HTTP server that answers like Open-Meteo and OpenWeatherMap 2.5, for client tests.

Paths mirror the real services so only the base URL changes:

- ``/v1/forecast`` and ``/v1/archive`` (Open-Meteo): ``hourly.time`` local to ``utc_offset_seconds``,
  ``hourly.temperature_2m`` in °C, nulls for hours listed in ``null_hours``; a bad parameter gets
  ``400 {"error": true, "reason": ...}``;
- ``/data/2.5/weather``, ``/data/2.5/forecast`` (40 points, 3-hourly) and ``/history/city`` (OWM):
  ``main.temp`` in the requested ``units`` (kelvin by default, as OWM does); a wrong ``appid`` gets
  ``401 {"cod": 401, "message": "Invalid API key. ..."}``.

``queue(path, status, body, headers, delay_s)`` scripts the next answers of a path (429 with
``Retry-After``, 503, slow answers past the client's timeout). Every request is recorded.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

OWM_401 = {
    "cod": 401,
    "message": "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info.",
}
OWM_429 = {
    "cod": 429,
    "message": "Your account is temporary blocked due to exceeding of requests limitation of your "
    "subscription type. Please choose the proper subscription https://openweathermap.org/price",
}


def default_temperature(ts: pd.Timestamp) -> float:
    """A smooth diurnal and seasonal curve, °C, rounded like the providers round."""
    day = ts.day_of_year + ts.hour / 24
    return round(
        12 - 8 * math.cos(2 * math.pi * (day - 15) / 365) + 5 * math.sin(2 * math.pi * (ts.hour - 9) / 24), 1
    )


@dataclass
class Scripted:
    status: int
    body: Any
    headers: dict[str, str]
    delay_s: float


class FakeWeatherServer:
    def __init__(
        self,
        temperature: Callable[[pd.Timestamp], float] = default_temperature,
        *,
        api_key: str = "good-key",
        utc_offset_seconds: int = 0,
        now: pd.Timestamp | None = None,
    ) -> None:
        self.temperature = temperature
        self.api_key = api_key
        self.utc_offset_seconds = utc_offset_seconds
        self.fixed_now = now
        self.null_hours: set[pd.Timestamp] = set()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._scripts: dict[str, deque[Scripted]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def now(self) -> pd.Timestamp:
        return self.fixed_now if self.fixed_now is not None else pd.Timestamp.now(tz="UTC")

    def start(self) -> FakeWeatherServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def queue(
        self, path: str, status: int, body: Any, headers: dict[str, str] | None = None, delay_s: float = 0.0
    ) -> None:
        with self._lock:
            self._scripts[path].append(Scripted(status, body, headers or {}, delay_s))

    def calls(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for p, _ in self.requests if path is None or p.endswith(path))

    # answers ------------------------------------------------------------------------------------
    def answer(self, path: str, params: dict[str, str]) -> Scripted:
        with self._lock:
            self.requests.append((path, params))
            script = self._scripts.get(path)
            if script:
                return script.popleft()
        if path in ("/v1/forecast", "/v1/archive"):
            return self._open_meteo(params)
        if params.get("appid") != self.api_key:
            return Scripted(401, OWM_401, {}, 0.0)
        if path == "/data/2.5/weather":
            now = self.now()
            return Scripted(
                200, {"dt": int(now.timestamp()), "main": self._main(now, params), "cod": 200}, {}, 0
            )
        if path == "/data/2.5/forecast":
            first = self.now().ceil("3h")
            stamps = pd.date_range(first, periods=40, freq="3h")
            items = [
                {
                    "dt": int(t.timestamp()),
                    "main": self._main(t, params),
                    "dt_txt": t.strftime("%Y-%m-%d %H:%M:%S"),
                }
                for t in stamps
            ]
            return Scripted(
                200, {"cod": "200", "message": 0, "cnt": 40, "list": items, "city": {"id": 1}}, {}, 0
            )
        if path == "/history/city":
            start = pd.Timestamp(int(params["start"]), unit="s", tz="UTC").ceil("h")
            end = pd.Timestamp(int(params["end"]), unit="s", tz="UTC")
            stamps = pd.date_range(start, end, freq="h", inclusive="left")
            items = [{"dt": int(t.timestamp()), "main": self._main(t, params)} for t in stamps]
            body = {
                "message": f"Count: {len(items)}",
                "cod": "200",
                "city_id": 1,
                "cnt": len(items),
                "list": items,
            }
            return Scripted(200, body, {}, 0)
        return Scripted(404, {"cod": "404", "message": "Internal error"}, {}, 0)

    def _main(self, ts: pd.Timestamp, params: dict[str, str]) -> dict[str, float]:
        celsius = self.temperature(ts)
        units = params.get("units", "standard")
        temp = (
            celsius
            if units == "metric"
            else celsius * 9 / 5 + 32
            if units == "imperial"
            else celsius + 273.15
        )
        return {"temp": round(temp, 2)}

    def _open_meteo(self, params: dict[str, str]) -> Scripted:
        try:
            first = pd.Timestamp(params["start_date"])
            last = pd.Timestamp(params["end_date"]) + pd.Timedelta(hours=23)
            float(params["latitude"]), float(params["longitude"])
        except (KeyError, ValueError) as exc:
            return Scripted(400, {"error": True, "reason": f"Invalid parameter: {exc}"}, {}, 0)
        local = pd.date_range(first, last, freq="h")
        offset = pd.Timedelta(seconds=self.utc_offset_seconds)
        values = []
        for stamp in local:
            utc = (stamp - offset).tz_localize("UTC")
            values.append(None if utc in self.null_hours else self.temperature(utc))
        body = {
            "latitude": float(params["latitude"]),
            "longitude": float(params["longitude"]),
            "generationtime_ms": 0.1,
            "utc_offset_seconds": self.utc_offset_seconds,
            "timezone": "GMT" if not self.utc_offset_seconds else "Europe/Rome",
            "timezone_abbreviation": "GMT",
            "elevation": 10.0,
            "hourly_units": {"time": "iso8601", "temperature_2m": "°C"},
            "hourly": {"time": [t.strftime("%Y-%m-%dT%H:%M") for t in local], "temperature_2m": values},
        }
        return Scripted(200, body, {}, 0)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                reply = server.answer(parts.path, params)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
