"""Big JSON bodies parsed and validated in slices, so the event loop keeps answering meanwhile.

A worker thread alone does not free the event loop: ``json.loads`` of 14 MB is one C call that
holds the GIL for over a second, and pydantic validates a whole list in one call, so
``/health/live`` stalled for as long as each took. Here a top-level array (or the seed's
``{"readings": [...]}``) is decoded element by element and validated ``SLICE`` items at a time:
between two steps the GIL can pass to the event loop. Validation stops at the first bad item
(``FailFast``), and decoding at ``max_items``, so a 10 MB array of wrong values is refused at once
instead of after building millions of objects. Python's cyclic garbage collector is paused
meanwhile (``paused_gc``): each full pass over the hundreds of thousands of fresh objects held
the GIL for up to 0.7 s, and decoding and validating create no reference cycles to collect.
"""

from __future__ import annotations

import gc
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from pydantic import FailFast, TypeAdapter, ValidationError

T = TypeVar("T")
SLICE = 2_000
_WHITESPACE = re.compile(r"[ \t\n\r]*")
# A top-level array, or an object whose first key is "readings" holding one.
_ARRAY_START = re.compile(r'[ \t\n\r]*(?:(\[)|\{[ \t\n\r]*"readings"[ \t\n\r]*:[ \t\n\r]*\[)')
_DECODER = json.JSONDecoder()
_GC_LOCK = threading.Lock()
_gc_state = {"pausers": 0, "restore": False}


class TooManyItemsError(ValueError):
    """The top-level array holds more than the allowed number of items."""

    def __init__(self, max_items: int) -> None:
        super().__init__(f"more than {max_items} items")
        self.max_items = max_items


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic collector for the block; with several blocks at once, until the last ends
    (and only if it was enabled before the first began)."""
    with _GC_LOCK:
        if _gc_state["pausers"] == 0:
            _gc_state["restore"] = gc.isenabled()
            gc.disable()
        _gc_state["pausers"] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_state["pausers"] -= 1
            if _gc_state["pausers"] == 0 and _gc_state["restore"]:
                gc.enable()


def loads_stepwise(body: bytes, max_items: int | None = None) -> Any:
    """``json.loads(body)``, decoding a top-level array element by element.

    ``{"readings": [...]}`` with no other key gives the list; any other shape is decoded whole.

    Raises:
        TooManyItemsError: the array has more than ``max_items`` elements (decoding stops there).
        ValueError: not JSON (``json.JSONDecodeError``, or a number past Python's digit limit).
        UnicodeDecodeError: not UTF-8.
        RecursionError: nested deeper than Python's decoder goes.
    """
    text = body.decode("utf-8")
    start = _ARRAY_START.match(text)
    if start is None:
        return json.loads(text or "null")
    items, end = _array_items(text, start.end(), max_items)
    rest = text[end:].strip(" \t\n\r")
    if start.group(1) and not rest:
        return items
    if not start.group(1) and rest == "}":
        return {"readings": items}
    return json.loads(text)  # trailing data or more keys: let the decoder judge the whole


def _array_items(text: str, index: int, max_items: int | None) -> tuple[list[Any], int]:
    """The elements of the array whose ``[`` ends just before ``index``, and the index after ``]``."""
    items: list[Any] = []
    index = _WHITESPACE.match(text, index).end()  # type: ignore[union-attr]
    if text.startswith("]", index):
        return items, index + 1
    while True:
        value, index = _DECODER.raw_decode(text, index)
        items.append(value)
        if max_items is not None and len(items) > max_items:
            raise TooManyItemsError(max_items)
        index = _WHITESPACE.match(text, index).end()  # type: ignore[union-attr]
        if text.startswith(",", index):
            index = _WHITESPACE.match(text, index + 1).end()  # type: ignore[union-attr]
        elif text.startswith("]", index):
            return items, index + 1
        else:
            raise json.JSONDecodeError("Expecting ',' or ']'", text, index)


def release(*lists: list[Any]) -> None:
    """Empty each list ``SLICE`` items at a time: freeing 240,000 decoded readings at once is one
    deallocation cascade that held the GIL for 0.13-0.2 s."""
    for items in lists:
        while items:
            del items[-SLICE:]


class InvalidItemError(ValueError):
    """The first invalid item of a list: where (counted over the whole list) and why."""

    def __init__(self, loc: tuple[int | str, ...], message: str) -> None:
        super().__init__(f"[{'.'.join(str(p) for p in loc)}]: {message}")
        self.loc = loc
        self.message = message


def validate_stepwise(item_type: type[T], payload: Any) -> list[T]:
    """``payload`` validated as ``list[item_type]``, ``SLICE`` items per call, stopping at the first
    bad item.

    Raises:
        InvalidItemError: the first invalid item (or a payload that is not a list), its location
            counted from the start of the whole list.
    """
    adapter = _adapter(item_type)
    chunks = range(0, len(payload), SLICE) if isinstance(payload, list) else [None]
    out: list[T] = []
    for offset in chunks:
        try:
            out += adapter.validate_python(payload if offset is None else payload[offset : offset + SLICE])
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = tuple(first["loc"])
            if offset is not None and loc and isinstance(loc[0], int):
                loc = (loc[0] + offset, *loc[1:])
            raise InvalidItemError(loc, first["msg"]) from None
    return out


_ADAPTERS: dict[type, TypeAdapter[Any]] = {}


def _adapter(item_type: type[T]) -> TypeAdapter[list[T]]:
    if item_type not in _ADAPTERS:
        _ADAPTERS[item_type] = TypeAdapter(Annotated[list[item_type], FailFast()])  # type: ignore[valid-type]
    return _ADAPTERS[item_type]
