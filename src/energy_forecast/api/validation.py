"""422 answers that quote at most a short excerpt of what was sent.

FastAPI's own 422 puts each error's whole ``input`` in the answer: a 10 MB array came back as
10 MB, encoded on the event loop, and an input nested 1,000 deep made the encoder recurse until it
failed with a 500. Here ``input`` becomes a bounded text excerpt, built without recursion past a
few levels, and messages are cut to a line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

EXCERPT_CHARS = 120
MESSAGE_CHARS = 300
MAX_ERRORS = 20
_DEPTH = 3
_ITEMS = 5


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """A JSON-like rendering of ``value``, at most ``limit`` characters (``…`` marks a cut)."""
    text = _render(value, _DEPTH, limit + 1)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _render(value: object, depth: int, budget: int) -> str:
    """Render until ``budget`` characters are reached; containers deeper than ``depth`` become ``…``."""
    if isinstance(value, str):
        return '"' + value[:budget] + ('"' if len(value) < budget else "")
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int):
        # str() of an int past 4,300 digits raises; its size says enough.
        return str(value) if value.bit_length() < 256 else f"<integer of {value.bit_length()} bits>"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Mapping):
        pairs = [
            f"{_render(k, 0, 40)}: {_render(v, depth - 1, budget)}" for k, v in _first(value.items(), depth)
        ]
        return "{" + _join(pairs, len(value), budget) + "}"
    if isinstance(value, list | tuple):
        rendered = [_render(v, depth - 1, budget) for v in _first(value, depth)]
        return "[" + _join(rendered, len(value), budget) + "]"
    if isinstance(value, bytes):
        return _render(value[:budget].decode("utf-8", "replace"), depth, budget)
    return f"<{type(value).__name__}>"


def _first(items: Any, depth: int) -> list[Any]:
    if depth <= 0:
        return []
    out = []
    for i, item in enumerate(items):
        if i >= _ITEMS:
            break
        out.append(item)
    return out


def _join(parts: Sequence[object], total: int, budget: int) -> str:
    text = ", ".join(str(p) for p in parts)
    if total > len(parts):
        text += (", " if parts else "") + f"… {total} items"
    return text[:budget]


def short_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors with ``input`` as an excerpt, ``msg`` cut to a line, at most ``MAX_ERRORS``."""
    out: list[dict[str, Any]] = []
    for error in errors[:MAX_ERRORS]:
        short = dict(error)
        short["msg"] = str(error.get("msg", ""))[:MESSAGE_CHARS]
        if "input" in error:
            short["input"] = excerpt(error["input"])
        if isinstance(error.get("ctx"), Mapping):
            short["ctx"] = {key: _context_value(value) for key, value in error["ctx"].items()}
        out.append(short)
    if len(errors) > MAX_ERRORS:
        out.append({"type": "more_errors", "loc": [], "msg": f"{len(errors) - MAX_ERRORS} more errors"})
    return out


def _context_value(value: object) -> object:
    if isinstance(value, bool | float) or (isinstance(value, int) and value.bit_length() < 64):
        return value
    if isinstance(value, str | BaseException):
        return str(value)[:MESSAGE_CHARS]
    return excerpt(value)
