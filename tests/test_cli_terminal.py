"""The train progress bar owns the terminal: log lines go above it (or only to the file), never through it."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import click

from energy_forecast.cli.terminal import CLEAR_LINE, bar_owns_terminal
from energy_forecast.logging import configure_logging, get_logger


def test_logs_print_above_a_live_bar_and_info_goes_only_to_the_file(tmp_path: Path) -> None:
    log_file = configure_logging(level="INFO", logs_dir=tmp_path / "logs")
    console = next(
        h
        for h in logging.getLogger().handlers
        if getattr(h, "_energy_forecast", False) and not isinstance(h, logging.FileHandler)
    )
    screen = io.StringIO()
    console.setStream(screen)  # type: ignore[attr-defined]
    bar = click.progressbar(length=10, label="training 1 meters", file=screen)
    bar.is_hidden = False  # as on a terminal
    log = get_logger("energy_forecast.test")

    try:
        with bar, bar_owns_terminal(bar):
            bar.update(3)
            log.info("stage_done", stage="FEATURES")
            log.warning("weather_provider_slow", provider="open-meteo")
            bar.update(2)
        after = console.level
    finally:
        configure_logging(level="INFO")

    text = screen.getvalue()
    assert "stage_done" not in text  # INFO: the log file only
    assert "weather_provider_slow" in text
    before_warning, _, rest = text.partition("weather_provider_slow")
    assert before_warning.rsplit("\n", 1)[-1].find(CLEAR_LINE) >= 0 or CLEAR_LINE in before_warning
    line_end = rest.index("\n")
    assert "training 1 meters" in rest[line_end:]  # the bar is drawn again below the log line
    assert after == logging.NOTSET  # the handler is given back as it was
    assert log_file is not None
    events = [json.loads(line)["event"] for line in log_file.read_text().splitlines()]
    assert "stage_done" in events and "weather_provider_slow" in events


def test_a_hidden_bar_leaves_log_lines_untouched() -> None:
    screen = io.StringIO()
    bar = click.progressbar(length=10, file=screen)  # not a terminal: click hides it
    configure_logging(level="INFO")
    console = next(h for h in logging.getLogger().handlers if getattr(h, "_energy_forecast", False))
    console.setStream(screen)  # type: ignore[attr-defined]

    with bar_owns_terminal(bar):
        get_logger("energy_forecast.test").warning("careful")

    assert CLEAR_LINE not in screen.getvalue() and "careful" in screen.getvalue()
