"""The CLI beside a running service: the service record under ``EF_HOME`` and an HTTP client for it.

The embedded DuckDB file can be opened by one process at a time. ``energy-forecast serve`` writes
``EF_HOME/serve.json`` (URL, pid, start time) once it listens and removes it when it stops; a CLI
command that finds a live record sends its work to that service over HTTP instead of opening the
store. A record whose pid is gone (a killed service) is ignored and removed.

Keys: the CLI sends ``EF_API_KEY`` when set. Otherwise, once the home has a key file (so the
service may enforce keys), it uses a key of its own with write scope, created on first need as
"energy-forecast-cli-local" and kept beside the key digests in ``EF_HOME/config/cli_api_key``
(0600, inside the 0700 home). Revoking it with ``apikey revoke`` makes the next command create a
fresh one; deleting the key file still returns the service to anonymous loopback use.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from energy_forecast.errors import ConfigurationError, EnergyForecastError
from energy_forecast.settings import Settings

RECORD_NAME = "serve.json"
CLI_KEY_NAME = "cli_api_key"
CLI_KEY_LABEL = "energy-forecast-cli-local"
# A service whose record is written but whose socket is not open yet (start-up) gets this long.
STARTUP_WAIT_S = 60.0


class ServiceError(EnergyForecastError):
    """The running service refused or failed a request; ``message`` is its own error detail."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ServiceRecord:
    """Where a running ``serve`` on this home answers, and which process it is."""

    url: str
    pid: int
    started_at: str
    process_start: str | None = None  # the kernel's start tick of ``pid`` (Linux): guards against reuse

    def alive(self) -> bool:
        """True while the recorded process runs (and is the same process, where that can be checked)."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process with that pid: not our service
            return False
        return self.process_start is None or _process_start(self.pid) in {None, self.process_start}


def record_path(settings: Settings) -> Path:
    return settings.home / RECORD_NAME


def _process_start(pid: int) -> str | None:
    """Field 22 of ``/proc/PID/stat`` (start time in clock ticks), None where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def write_record(settings: Settings, url: str) -> ServiceRecord:
    """Record this process as the home's service (owner-only file, replaced atomically)."""
    pid = os.getpid()
    record = ServiceRecord(url, pid, datetime.now(UTC).isoformat(), _process_start(pid))
    path = record_path(settings)
    tmp = path.with_name(f".{RECORD_NAME}.{pid}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(record), handle)
    os.replace(tmp, path)
    return record


def remove_record(settings: Settings) -> None:
    """Remove the record if it is this process's (a second ``serve`` that failed leaves the first's)."""
    current = read_record(settings, drop_stale=False)
    if current is not None and current.pid == os.getpid():
        record_path(settings).unlink(missing_ok=True)


def read_record(settings: Settings, *, drop_stale: bool = True) -> ServiceRecord | None:
    """The live service's record; a stale one (its process is gone) is removed and None returned."""
    path = record_path(settings)
    try:
        raw = json.loads(path.read_text())
        record = ServiceRecord(
            **{k: raw[k] for k in ("url", "pid", "started_at")}, process_start=raw.get("process_start")
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        if drop_stale:
            path.unlink(missing_ok=True)  # unreadable: a half-written record of a crashed start
        return None
    if drop_stale and not record.alive():
        path.unlink(missing_ok=True)
        return None
    return record


def cli_api_key(settings: Settings) -> str | None:
    """The key the CLI sends: ``EF_API_KEY``, else its own local key once the home has keys, else none."""
    if settings.api_key is not None:
        return settings.api_key.get_secret_value()
    from energy_forecast.services.apikeys import ApiKeyStore

    keys = ApiKeyStore(settings.api_keys_path)
    if not keys.exists():
        return None
    path = settings.api_keys_path.parent / CLI_KEY_NAME
    try:
        stored = path.read_text().strip()
    except FileNotFoundError:
        stored = ""
    if stored and keys.verify(stored) is not None:
        return stored
    _, secret = keys.create(CLI_KEY_LABEL, ["write"])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret


class ServiceClient:
    """JSON over HTTP to the home's running service; errors become ``ServiceError`` with its message."""

    def __init__(self, record: ServiceRecord, api_key: str | None, *, timeout_s: float = 600.0) -> None:
        headers = {"User-Agent": "energy-forecast-cli"}
        if api_key:
            headers["X-API-Key"] = api_key
        self.record = record
        self.http = httpx.Client(base_url=record.url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self.http.close()

    def wait_until_up(self, wait_s: float = STARTUP_WAIT_S) -> None:
        """Wait while a just-started service opens its socket; a dead one is a clear error."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.http.get("/health/live", timeout=5.0)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline or not self.record.alive():
                    raise ConfigurationError(
                        "EF_HOME",
                        f"the service recorded in {RECORD_NAME} (pid {self.record.pid}, {self.record.url}) "
                        "does not answer; stop it, or remove the file if that process is not the service",
                    ) from None
                time.sleep(0.25)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServiceError(f"the service at {self.record.url} did not answer: {exc}", 503) from None
        if response.status_code >= 400:
            raise ServiceError(_detail(response), response.status_code)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs).json()


def _detail(response: httpx.Response) -> str:
    """The service's own error text (``detail``), with the status; the raw body when not JSON."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI's validation problems
        detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail)
    return f"{detail} [HTTP {response.status_code}]"
