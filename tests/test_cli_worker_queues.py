"""``energy-forecast worker --queues``: which kinds of task a worker process serves."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from typer.testing import CliRunner

from energy_forecast.cli import app

runner = CliRunner()


@pytest.fixture
def shared_services(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("INFLUX_URL", "http://127.0.0.1:1")


def test_an_unknown_queue_is_refused_with_the_known_kinds(shared_services: None) -> None:
    result = runner.invoke(app, ["worker", "--queues", "training,fitting"])

    assert result.exit_code == 2
    assert "'fitting'" in result.output and "evaluation" in result.output


@pytest.mark.parametrize(
    ("option", "environment", "expected"),
    [
        (["--queues", "evaluation,publication"], None, ["evaluation", "publication"]),
        ([], "training", ["default"]),
        ([], None, None),
    ],
    ids=["option", "setting", "all"],
)
def test_the_chosen_queues_reach_every_worker_process(
    shared_services: None,
    monkeypatch: pytest.MonkeyPatch,
    option: list[str],
    environment: str | None,
    expected: list[str] | None,
) -> None:
    if environment is not None:
        monkeypatch.setenv("EF_WORKER_QUEUES", environment)
    seen: dict[str, Any] = {}

    def fake_run(bootstrap: partial[Any], **kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr("energy_forecast.tasks.worker.run_worker_processes", fake_run)
    result = runner.invoke(app, ["worker", "--processes", "1", "--threads", "3", *option])

    assert result.exit_code == 0, result.output
    assert seen == {"processes": 1, "threads": 3, "queues": expected}
