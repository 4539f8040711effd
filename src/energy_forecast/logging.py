"""Process-wide logging: structlog over the standard library, configured once per process.

Console: coloured, human. File: ``{home}/logs/energy_forecasting_{timestamp}.log``, one JSON object
per line, rotated by size, files older than the retention deleted at start-up (directory 0700,
files 0600). Context such as ``request_id``, ``task_id`` and ``meter_id`` is bound through
contextvars and appears on every line.

Tracebacks never carry local variables (a rich traceback's locals printed request headers with
the API key, and the whole Settings): on the console an exception is one line plus its last
``SHORT_FRAMES`` frames, the whole chain only at level DEBUG (``DEBUG=true``); the file always has
the whole plain traceback. Both are redacted after rendering (``redact_text``): URL passwords, API
keys, bearer tokens and ``password=``/``token=``-style values.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

# The seed's component levels; DEBUG=true lowers only our own logger.
COMPONENT_LEVELS: dict[str, int] = {
    "dramatiq": logging.INFO,
    "redis": logging.WARNING,
    "influxdb": logging.INFO,
    "influxdb_client": logging.INFO,
    "xgboost": logging.WARNING,
    "urllib3": logging.WARNING,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "uvicorn.access": logging.WARNING,
}
LOG_RETENTION = timedelta(days=7)
SHORT_FRAMES = 3
_SECRET_KEYS = {"token", "password", "api_key", "secret", "authorization", "influx_token", "x-api-key"}
# The password of a URL (redis://user:PASSWORD@host, rediss://:PASSWORD@host) in any logged text.
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+@", re.IGNORECASE)
# Our API keys (ef_<8 hex>_<secret>): the id stays, it is what the logs name anyway.
_API_KEY = re.compile(r"(?P<head>\bef_[0-9a-f]{8}_)[A-Za-z0-9_-]+")
# "Bearer <x>" / "Token <x>" credentials, and name=value or 'name': 'value' pairs of secret names.
_SCHEME_CREDENTIAL = re.compile(
    r"(?P<head>\b(?:[Bb]earer|[Bb]asic|BEARER|BASIC)\s+)[^\s'\",]+|(?P<tok>\bToken\s+)[\w+/=.-]{12,}"
)
_SECRET_VALUE = re.compile(
    r"(?P<head>\b(?:password|passwd|secret|token|api[_-]?key|appid|x-api-key|authorization)['\"]?"
    r"\s*[:=]\s*(?:b?['\"])?)(?!\*\*\*)[^\s'\",&)}]+",
    re.IGNORECASE,
)


def redact_text(text: str) -> str:
    """``text`` with URL passwords, API keys, bearer tokens and secret-named values as ``***``."""
    text = _URL_PASSWORD.sub(r"\g<head>***@", text)
    text = _API_KEY.sub(r"\g<head>***", text)
    text = _SCHEME_CREDENTIAL.sub(lambda m: (m.group("head") or m.group("tok")) + "***", text)
    return _SECRET_VALUE.sub(r"\g<head>***", text)


# An absolute file-system path (not the path part of a URL such as redis://host:6379/0).
_ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~-])/[^\s'\":,;()]+")


def hide_paths(text: str) -> str:
    """``text`` with each absolute path cut to its last two parts (``…/m1/v0001``), for answers
    that leave the host: the layout of the machine is no caller's business; the log keeps it."""

    def shorten(match: re.Match[str]) -> str:
        parts = [p for p in match.group(0).split("/") if p]
        return "…/" + "/".join(parts[-2:]) if len(parts) > 2 else match.group(0)

    return _ABSOLUTE_PATH.sub(shorten, text)


def format_exception(exc_info: tuple[type[BaseException], BaseException, object], *, full: bool) -> str:
    """A plain traceback without locals: whole chain when ``full``, else one line and the last frames."""
    kind, exc, tb = exc_info
    if full:
        return redact_text("".join(traceback.format_exception(kind, exc, tb)))  # type: ignore[arg-type]
    frames = traceback.format_tb(tb, limit=-SHORT_FRAMES)  # type: ignore[arg-type]
    summary = "".join(traceback.format_exception_only(kind, exc)).strip()
    note = f"(last {len(frames)} frames; DEBUG=true shows the whole traceback)"
    return redact_text(f"{summary} {note}\n" + "".join(frames).rstrip("\n"))


def _exception_renderer(full: bool) -> structlog.types.Processor:
    """Turn ``exc_info`` into a redacted ``exception`` string before a console renderer sees it."""

    def render(_: object, __: str, event: dict[str, object]) -> dict[str, object]:
        info = event.pop("exc_info", None)
        if info is True:
            info = sys.exc_info()
        elif isinstance(info, BaseException):
            info = (type(info), info, info.__traceback__)
        if isinstance(info, tuple) and info[0] is not None:
            event["exception"] = format_exception(info, full=full)  # type: ignore[arg-type]
        elif isinstance(event.get("exception"), str):
            event["exception"] = redact_text(event["exception"])  # type: ignore[arg-type]
        return event

    return render


class _PrivateFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file (the first and each rollover) is mode 0600."""

    def _open(self):  # type: ignore[no-untyped-def]  # the stdlib's own signature
        stream = super()._open()
        os.chmod(self.baseFilename, 0o600)
        return stream


def _redact_secrets(_: object, __: str, event: dict[str, object]) -> dict[str, object]:
    """Never write a secret, even if a caller binds one by mistake."""
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "***"
        elif isinstance(event[key], str):
            event[key] = redact_text(event[key])  # type: ignore[arg-type]
    return event


_SHARED_PROCESSORS: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _redact_secrets,
]


def prune_old_logs(logs_dir: Path, retention: timedelta = LOG_RETENTION) -> int:
    """Delete log files older than the retention; returns how many were removed."""
    cutoff = time.time() - retention.total_seconds()
    removed = 0
    for path in logs_dir.glob("energy_forecasting_*.log*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def configure_logging(
    *,
    level: str = "INFO",
    logs_dir: Path | None = None,
    json_console: bool = False,
    max_bytes: int = 20 * 1024 * 1024,
    backups: int = 5,
) -> Path | None:
    """Configure structlog and the stdlib root logger; returns the log file path (if any)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_energy_forecast", False):
            root.removeHandler(handler)
            handler.close()

    console_renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json_console
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=_SHARED_PROCESSORS,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _exception_renderer(full=level.upper() == "DEBUG"),
                console_renderer,
            ],
        )
    )
    console._energy_forecast = True  # type: ignore[attr-defined]
    root.addHandler(console)

    log_file: Path | None = None
    if logs_dir is not None:
        logs_dir.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # a new EF_HOME: private
        logs_dir.mkdir(mode=0o700, exist_ok=True)
        prune_old_logs(logs_dir)
        stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
        log_file = logs_dir / f"energy_forecasting_{stamp}.log"
        file_handler = _PrivateFileHandler(
            log_file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        file_handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=_SHARED_PROCESSORS,
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    _redact_secrets,  # again: tracebacks are rendered only now
                    structlog.processors.JSONRenderer(),
                ],
            )
        )
        file_handler._energy_forecast = True  # type: ignore[attr-defined]
        root.addHandler(file_handler)

    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric)
    for name, component_level in COMPONENT_LEVELS.items():
        logging.getLogger(name).setLevel(component_level)
    logging.getLogger("energy_forecast").setLevel(numeric)

    structlog.configure(
        processors=[
            *_SHARED_PROCESSORS,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return log_file


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger under the package's stdlib logger name."""
    return structlog.get_logger(name)  # type: ignore[no-any-return]
