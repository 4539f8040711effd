"""The progress bar owns the terminal: log lines never cut through it.

While a bar is drawn, the console log handler shows warnings and errors only (everything still goes
to the log file under ``EF_HOME/logs``), and each line it does show is printed above the bar: the
bar's line is cleared, the log line written, the bar drawn again below it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

CLEAR_LINE = "\r\x1b[K"


class _AboveBar:
    """A stream for the console log handler that keeps its lines above a live progress bar."""

    def __init__(self, stream: IO[str], bar: Any) -> None:
        self.stream = stream
        self.bar = bar

    def write(self, text: str) -> int:
        live = not getattr(self.bar, "is_hidden", True)
        if live:
            self.bar.file.write(CLEAR_LINE)
            self.bar.file.flush()
        written = self.stream.write(text)
        self.stream.flush()
        if live and text.endswith("\n"):
            self.bar._last_line = None  # click draws only a changed line; this one was wiped
            self.bar.render_progress()
        return written

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.stream, "isatty", lambda: False)())


def _console_handlers() -> list[logging.StreamHandler[Any]]:
    return [
        handler
        for handler in logging.getLogger().handlers
        if getattr(handler, "_energy_forecast", False)
        and isinstance(handler, logging.StreamHandler)
        and not isinstance(handler, logging.FileHandler)
    ]


@contextmanager
def bar_owns_terminal(bar: Any, console_level: int = logging.WARNING) -> Iterator[None]:
    """While the block runs, console logs are warnings and up only, each printed above ``bar``."""
    saved = [(h, h.stream, h.level) for h in _console_handlers()]
    for handler, stream, level in saved:
        handler.setStream(_AboveBar(stream, bar))  # type: ignore[arg-type]
        handler.setLevel(max(level, console_level))
    try:
        yield
    finally:
        for handler, stream, level in saved:
            handler.setStream(stream)
            handler.setLevel(level)
