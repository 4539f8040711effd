"""``energy-forecast schedule`` and ``scheduler``: the schedule as the API shows it, and refusals."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from typer.testing import CliRunner

from energy_forecast.cli import app
from energy_forecast.tasks.scheduler import Job, JobOutcome, Scheduler

runner = CliRunner()


@pytest.mark.integration
def test_schedule_lists_each_job_with_its_last_run_and_the_leader(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    jobs = [
        Job("train", timedelta(minutes=1), lambda: JobOutcome(enqueued=3, skipped=1, detail="3 no_model"))
    ]
    Scheduler(client, jobs, tick=timedelta(minutes=1)).step()
    monkeypatch.setenv("REDIS_URL", redis_url)
    try:
        shown = runner.invoke(app, ["schedule", "--json"])
        table = runner.invoke(app, ["schedule"])
    finally:
        client.flushdb()
        client.close()

    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)
    train = next(j for j in view["jobs"] if j["name"] == "train")
    assert train["last_outcome"] == {"enqueued": 3, "skipped": 1, "failed": 0} and train["last_run"]
    assert {j["name"] for j in view["jobs"]} == {"train", "forecast", "retention", "alerts"}
    assert view["leader"]["pid"]
    assert table.exit_code == 0 and "3/1/0" in table.stdout and "leader:" in table.stdout


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        pytest.param({}, "runs inside `energy-forecast serve`", id="no-redis"),
        pytest.param({"REDIS_URL": "redis://127.0.0.1:1/0"}, "DuckDB store", id="duckdb"),
    ],
)
def test_scheduler_refuses_to_start_where_it_cannot_work(
    env: dict[str, str], fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EF_SCHEDULE__ENABLED", "true")
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    result = runner.invoke(app, ["scheduler"])

    assert result.exit_code == 2
    assert fragment in result.output
