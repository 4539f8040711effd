"""Logging: file log under home, JSON lines with bound context, secrets redacted, old logs pruned."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from energy_forecast.logging import COMPONENT_LEVELS, configure_logging, get_logger, prune_old_logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    structlog.reset_defaults()


def test_file_log_has_context_and_no_secrets(tmp_path: Path, restore_logging: None) -> None:
    log_file = configure_logging(level="INFO", logs_dir=tmp_path / "logs")
    assert log_file is not None and log_file.name.startswith("energy_forecasting_")

    with structlog.contextvars.bound_contextvars(task_id="t-1", meter_id="m1"):
        get_logger("energy_forecast.test").info("model_trained", token="s3cret", rows=5)
    for handler in logging.getLogger().handlers:
        handler.flush()

    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    event = next(e for e in lines if e["event"] == "model_trained")
    assert event["task_id"] == "t-1" and event["meter_id"] == "m1" and event["rows"] == 5
    assert event["token"] == "***"
    assert "s3cret" not in log_file.read_text()


def test_component_levels_follow_the_seed(tmp_path: Path, restore_logging: None) -> None:
    configure_logging(level="DEBUG", logs_dir=None)

    for name, level in COMPONENT_LEVELS.items():
        assert logging.getLogger(name).level == level
    assert logging.getLogger("energy_forecast").level == logging.DEBUG


def test_logs_older_than_seven_days_are_pruned(tmp_path: Path) -> None:
    old = tmp_path / "energy_forecasting_20000101_000000.log"
    new = tmp_path / "energy_forecasting_20990101_000000.log"
    old.write_text("x")
    new.write_text("y")
    eight_days_ago = time.time() - 8 * 86400
    os.utime(old, (eight_days_ago, eight_days_ago))

    assert prune_old_logs(tmp_path) == 1
    assert not old.exists() and new.exists()
