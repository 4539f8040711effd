"""Configuration that talks back: readable durations, unknown ``EF_*`` names, errors with an example.

A misspelt variable (``EF_HOEM``) would otherwise be ignored in silence and the service would run on
defaults; a duration written as people write them (``1h``) would fail with pydantic's ISO-8601
wording. Pure functions over the environment mapping and the settings classes, no I/O.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, BeforeValidator

from energy_forecast.logging import redact_text

# Our own tooling's variables (scripts/, tests), not settings of the service.
IGNORED_PREFIXES = ("EF_TEST_", "EF_SERVERS_", "EF_VENV", "EF_EXTRAS", "EF_BENCH_")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_UNIT_WORDS = {
    "sec": "s", "secs": "s", "second": "s", "seconds": "s",
    "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "day": "d", "days": "d", "week": "w", "weeks": "w",
}  # fmt: skip
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
DURATION_EXAMPLE = "1h, 30m, 7d, 90s, 1h30m, PT1H or 3600"


def parse_duration(value: Any) -> Any:
    """``1h``, ``30m``, ``7d``, ``90s``, ``1h30m``, ``2 hours`` or ``3600`` (seconds) as a timedelta.

    ISO-8601 (``PT1H``) and non-text values are left to pydantic, which reads them already.
    """
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if text.startswith(("p", "-")):
        return value  # ISO-8601 (or a negative value the setting's own rule refuses)
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return timedelta(seconds=float(text))
    parts = _PART.findall(text)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != re.sub(r"\s+", "", text):
        raise ValueError(f"not a duration; write it like {DURATION_EXAMPLE}")
    seconds = 0.0
    for number, unit in parts:
        unit = _UNIT_WORDS.get(unit, unit)
        if unit not in _UNITS:
            raise ValueError(f"unknown unit {unit!r} in a duration; write it like {DURATION_EXAMPLE}")
        seconds += float(number) * _UNITS[unit]
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
"""A timedelta setting that also reads ``1h``/``30m``/``7d``/``90s``."""


def known_variables(model: type[BaseModel], prefix: str = "EF_") -> Iterator[str]:
    """Every ``EF_*`` name the settings read, nested sections with ``__`` (``EF_INFLUX__URL``)."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield f"{prefix}{name.upper()}"  # a whole section as JSON
            yield from known_variables(annotation, f"{prefix}{name.upper()}__")
        else:
            yield f"{prefix}{name.upper()}"


def unknown_variables(environ: Mapping[str, str], known: set[str]) -> list[tuple[str, str | None]]:
    """Each ``EF_*`` variable no setting reads, with the closest known name (or None)."""
    found = []
    for name in sorted(environ):
        if not name.startswith("EF_") or name in known or name.startswith(IGNORED_PREFIXES):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        found.append((name, close[0] if close else None))
    return found


def unknown_variable_lines(environ: Mapping[str, str], model: type[BaseModel]) -> list[str]:
    """One warning line per unknown ``EF_*`` variable, saying what it is probably meant to be."""
    lines = []
    for name, close in unknown_variables(environ, set(known_variables(model))):
        hint = f"did you mean {close}?" if close else "see the configuration reference for the names"
        lines.append(f"{name} is not a setting energy-forecast reads and is ignored ({hint})")
    return lines


def variable_name(
    loc: tuple[Any, ...], environ: Mapping[str, str], seed_env: Mapping[str, tuple[str, ...]]
) -> str:
    """The variable a validation error's location came from: the seed's name when that one is set."""
    path = tuple(str(p) for p in loc if not isinstance(p, int))
    ef_name = "EF_" + "__".join(p.upper() for p in path)
    if ef_name not in environ:
        for seed_name, seed_path in seed_env.items():
            if seed_path == path and seed_name in environ:
                return seed_name
    return ef_name


def _field(model: type[BaseModel], path: tuple[str, ...]) -> tuple[Any, Any]:
    """(annotation, default) of the setting at ``path``; (None, None) when there is none."""
    annotation: Any = model
    default: Any = None
    for part in path:
        fields = getattr(annotation, "model_fields", None)
        if fields is None or part not in fields:
            return None, None
        annotation, default = fields[part].annotation, fields[part].default
    return annotation, default


def example_for(model: type[BaseModel], loc: tuple[Any, ...], name: str) -> str:
    """A value that would be accepted, by the setting's type (``EF_TASK_TIME_LIMIT=1h``)."""
    annotation, default = _field(model, tuple(str(p) for p in loc if not isinstance(p, int)))
    options = [a for a in get_args(annotation) if a is not type(None)] if get_origin(annotation) else []
    base = options[0] if len(options) == 1 else annotation
    if base is timedelta:
        return f"{name}=1h (durations: {DURATION_EXAMPLE})"
    if base is bool:
        return f"{name}=true (or false)"
    if base in (int, float):
        return f"{name}={default if isinstance(default, int | float) else 4} (a number)"
    literal = [a for a in get_args(base) if isinstance(a, str)]
    if get_origin(base) is not None and literal and str(get_origin(base)).endswith("Literal"):
        return f"{name}={literal[0]} (one of {', '.join(literal)})"
    return ""


_USERINFO = re.compile(r"([a-z][a-z0-9+.-]*://)[^/@\s'\"]+@", re.IGNORECASE)


def describe_error(
    model: type[BaseModel],
    error: Mapping[str, Any],
    environ: Mapping[str, str],
    seed_env: Mapping[str, tuple[str, ...]],
) -> tuple[str, str]:
    """(variable, problem) for one pydantic error: what was given, what is wrong, an example."""
    loc = tuple(error.get("loc", ()))
    name = variable_name(loc, environ, seed_env) if loc else "settings"
    message = str(error["msg"]).removeprefix("Value error, ")
    given = error.get("input")
    problem = message
    if loc and isinstance(given, str | int | float | bool):
        shown = redact_text(repr(given) if isinstance(given, str) else str(given))
        shown = _USERINFO.sub(r"\1***@", shown)  # a URL's user name can be an access key id
        if shown not in message:
            problem = f"{shown} is not valid: {message}"
        example = example_for(model, loc, name)
        if DURATION_EXAMPLE in problem:
            example = example.split(" (durations")[0]  # the forms are already listed
        if example:
            problem += f"; for example {example}"
    return name, problem
