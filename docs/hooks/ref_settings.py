"""The settings reference, rendered from the pydantic settings model.

Every field of ``Settings`` (and of its nested groups) becomes one row: the environment variable,
the seed's plain name where one exists, the type with its bounds, the default and the meaning.
The meaning is the field's ``description``, else the comment written above the field (or at the
end of its line) in the model's source, else ``MEANINGS`` below; a field with none of these is
reported, so the strict build fails until the new setting says what it does.
"""

from __future__ import annotations

import inspect
import io
import re
import tokenize
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

# Meanings of fields whose source carries no comment or description, keyed by dotted path.
MEANINGS: dict[str, str] = {
    "home": "Everything the service writes: `energy.duckdb`, `models/`, `logs/`, `config/`, `redis/`.",
    "config_dir": "Where the seed's `influxdb_config.json` and `weather_config.json` are read.",
    "debug": "Debug logging for our own loggers, and whole tracebacks on the console.",
    "log_level": "Level of our own log lines on the console and in the log file.",
    "log_json": "Console log lines as JSON instead of coloured text (the file is always JSON lines).",
    "redis_url": "External Redis for the task queue (`redis://` or `rediss://`); unset = a private "
    "embedded Redis on a unix socket under `EF_HOME/redis/`.",
    "host": "HTTP bind address of `serve`; anything but loopback requires API keys.",
    "port": "HTTP port of `serve`.",
    "worker_threads": "Worker threads inside `serve` (embedded mode) and in `train`.",
    "fit_threads": "XGBoost threads per fit; unset = the machine's cores divided by concurrent fits.",
    "task_retention": "How long task progress, results and error records are kept in Redis.",
    "task_time_limit": "A task running longer is stopped and fails with `TIMEOUT_ERROR`.",
    "task_max_retries": "Retries (exponential backoff) of connection and unexpected errors; data "
    "problems fail at once.",
    "worker_heartbeat_timeout": "A worker silent for this long is presumed dead and its tasks are "
    "redelivered to another.",
    "max_import_rows": "Rows per import request.",
    "rate_limit_per_s": "Token-bucket refill rate per API key (or client address); `0` disables the limit.",
    "rate_limit_burst": "Token-bucket size per API key (or client address).",
    "max_body_bytes": "Largest request body; larger ones answer 413.",
    "request_timeout": "A request with no response started by then answers 504.",
    "cors_allow_credentials": "Let browsers on the allowed origins send cookies and HTTP auth "
    "(refused together with `*`).",
    "s3_timeout_s": "S3 read timeout in seconds (connect: at most 5 s; 3 attempts).",
    "s3_create_bucket": "Create the model bucket when it is missing (else the error names it).",
    "influx": "InfluxDB store (the v1 HTTP API); unset URL = the embedded DuckDB store.",
    "influx.url": "InfluxDB base URL, e.g. `http://localhost:8086`; unset = embedded DuckDB.",
    "influx.token": "Token sent as `Authorization: Token …` (InfluxDB 2.x/3.x, or 1.x with auth).",
    "influx.org": "InfluxDB organisation (2.x), as in the seed's `influxdb_config.json`.",
    "influx.bucket": "Database (1.x) or DBRP-mapped bucket (2.x/3.x) holding every measurement.",
    "influx.username": "InfluxDB 1.x user for basic auth instead of a token.",
    "influx.password": "InfluxDB 1.x password for basic auth.",
    "influx.timeout_s": "Per-request timeout against InfluxDB, in seconds.",
    "weather": "Weather providers for future (and missing past) temperatures.",
    "weather.api_key": "OpenWeatherMap API key; enables that provider.",
    "weather.base_url": "OpenWeatherMap API base URL.",
    "weather.open_meteo_url": "Open-Meteo forecast API base URL.",
    "weather.open_meteo_archive_url": "Open-Meteo archive (reanalysis) API base URL.",
    "weather.timeout_s": "Per-request timeout against a provider, in seconds (connect at most 5 s).",
    "weather.history_url": "OpenWeatherMap History API base URL.",
    "weather.max_retries": "Retries of a provider's 429 and 5xx answers (backoff 0.5, 1, 2 s).",
    "weather.cooldown": "A provider that failed is skipped for this long.",
    "schedule": "The scheduler that keeps a fleet fresh on its own.",
    "schedule.enabled": "`false` turns the scheduler off (a `scheduler` process refuses to start).",
    "schedule.tick": "How often the *train* job looks; the leader lease lives one tick.",
    "schedule.model_max_age": "Retrain when a meter's newest model version is older than this.",
    "schedule.drift_factor": "Retrain when live CV(RMSE) exceeds this factor times the active "
    "model's hold-out CV(RMSE).",
    "schedule.forecast_every": "How often forecasts are published for every meter with a model.",
    "schedule.forecast_days": "Days published after each meter's last reading.",
    "schedule.forecast_chunk_size": "Meters per publication task.",
    "schedule.forecast_retention": "Published points older than this (before the type's newest "
    "reading) are removed.",
    "schedule.keep_versions": "Model versions kept per meter besides the active one.",
    "schedule.retention_every": "How often retention runs.",
    "models": "Champion/challenger rules for retrained models.",
}


def field_comments(model: type[BaseModel]) -> dict[str, str]:
    """Comments above each field (or at the end of its line), by field name, subclasses first."""
    found: dict[str, str] = {}
    for cls in reversed([c for c in model.__mro__ if issubclass(c, BaseModel) and c is not BaseModel]):
        found |= _class_comments(cls)
    return found


def _class_comments(model: type) -> dict[str, str]:
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    found: dict[str, str] = {}
    pending: list[str] = []
    lines = source.splitlines()
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    trailing = {tok.start[0]: tok.string for tok in tokens if tok.type == tokenize.COMMENT}
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        match = re.match(r"\s{4}([a-z_][a-z0-9_]*)\s*:", line)
        if match:
            name = match.group(1)
            inline = trailing.get(number)
            text = " ".join(pending) if pending else ""
            if inline and not stripped.startswith("#"):
                text = (text + " " + inline.lstrip("#").strip()).strip()
            if text:
                found[name] = text
        pending = [] if not stripped.startswith("#") else pending
    return found


def describe_type(annotation: Any) -> str:
    """A reader's name for a field type: durations, secrets and choices spelled out."""
    origin = get_origin(annotation)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in get_args(annotation))
    if origin in (Union, getattr(__import__("types"), "UnionType", Union)) and args:
        inner = " or ".join(describe_type(a) for a in args)
        return inner
    if origin is list:
        return f"list of {describe_type(args[0]) if args else 'values'} (JSON or comma-separated)"
    if get_origin(annotation) is not None and hasattr(annotation, "__metadata__"):
        return describe_type(get_args(annotation)[0])
    if annotation is timedelta:
        return "duration (ISO-8601, e.g. `PT1M`, `P7D`)"
    if annotation is SecretStr:
        return "secret (never logged)"
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if annotation is float:
        return "number"
    if annotation is str:
        return "string"
    if annotation is Path:
        return "path"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in annotation)
    return getattr(annotation, "__name__", str(annotation))


def iso_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    date = f"{days}D" if days else ""
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "P" + date + ("T" + time if time else "") if (date or time) else "PT0S"


def describe_default(info: FieldInfo) -> str:
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if value is None or value == []:
        return "unset"
    if isinstance(value, timedelta):
        return f"`{iso_duration(value)}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Enum):
        return f"`{value.value}`"
    if isinstance(value, Path) and not value.is_absolute():
        return f"`./{value}`"
    if isinstance(value, BaseModel):
        return "(group)"
    return f"`{value}`"


def describe_bounds(info: FieldInfo) -> str:
    parts = []
    for item in info.metadata:
        for attr, word in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            bound = getattr(item, attr, None)
            if bound is not None:
                parts.append(f"{word} {bound}")
    return ", ".join(parts)


def env_names(
    path: tuple[str, ...], prefix: str, delimiter: str, seed_env: dict[str, tuple[str, ...]]
) -> str:
    names = [f"`{prefix}{delimiter.join(p.upper() for p in path)}`"]
    names += [f"`{plain}`" for plain, target in seed_env.items() if target == path]
    return " or ".join(names)


def rows(
    model: type[BaseModel], path: tuple[str, ...], prefix: str, delimiter: str,
    seed_env: dict[str, tuple[str, ...]], missing: list[str],
) -> list[str]:
    comments = field_comments(model)
    out: list[str] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        dotted = ".".join((*path, name))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested.append((name, annotation))
            continue
        meaning = info.description or comments.get(name) or MEANINGS.get(dotted)
        if not meaning:
            missing.append(dotted)
            meaning = "**undocumented**"
        kind = describe_type(annotation)
        bounds = describe_bounds(info)
        if bounds:
            kind += f" ({bounds})"
        env = env_names((*path, name), prefix, delimiter, seed_env)
        out.append(f"| {env} | {kind} | {describe_default(info)} | {meaning} |")
    for name, sub in nested:
        dotted = ".".join((*path, name))
        group_env = f"{prefix}{delimiter.join(p.upper() for p in (*path, name))}{delimiter}"
        out.append("")
        out.append(f"### `{group_env}*`: {name}")
        out.append("")
        intro = (sub.__doc__ or "").strip().splitlines()
        text = MEANINGS.get(dotted) or (intro[0] if intro else "")
        if text:
            out.append(text)
            out.append("")
        out.append(HEADER)
        out.extend(rows(sub, (*path, name), prefix, delimiter, seed_env, missing))
    return out


HEADER = "| variable | type | default | meaning |\n|---|---|---|---|"


def render(settings_cls: type[BaseModel], seed_env: dict[str, tuple[str, ...]],
           seed_files: dict[str, str]) -> tuple[str, list[str]]:
    """The page's Markdown and the dotted names of fields that have no meaning anywhere."""
    config = settings_cls.model_config
    prefix = str(config.get("env_prefix", ""))
    delimiter = str(config.get("env_nested_delimiter", "__"))
    missing: list[str] = []
    body = rows(settings_cls, (), prefix, delimiter, seed_env, missing)
    files = ", ".join(f"`{name}` ({group})" for group, name in seed_files.items())
    page = [
        "# Settings",
        "",
        "<!-- Generated at build time from energy_forecast.settings.Settings: edit the model. -->",
        "",
        "Settings are read once at start-up. An invalid value stops start-up with one line that names",
        "the setting; secrets are never logged. Sources, strongest first: explicit command-line options,",
        f"`{prefix}*` environment variables (nested groups with `{delimiter}`), the seed's plain variable",
        f"names, the seed's JSON files under `EF_CONFIG_DIR` ({files}), and the defaults below.",
        "Durations are ISO-8601 (`PT5S`, `PT1H`, `P7D`).",
        "",
        "## Service",
        "",
        HEADER,
        *body,
        "",
    ]
    return "\n".join(page), missing
