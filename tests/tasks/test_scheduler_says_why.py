"""The scheduler says when it queues trainings (at start-up: every meter without a model)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from structlog.testing import capture_logs

from energy_forecast.tasks.schedule_jobs import ScheduleJobs
from tests.tasks.test_scheduler import _save, jobs  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration


def test_queued_trainings_are_announced_with_what_a_user_waits_behind(jobs: tuple[ScheduleJobs, ...]) -> None:  # noqa: F811
    schedule_jobs, _, models = jobs
    _save(models, "m0", datetime.now(UTC))

    with capture_logs() as logs:
        schedule_jobs.train()
        schedule_jobs.train()  # nothing new: nothing said

    said = [e for e in logs if e["event"] == "scheduler_training_queued"]
    assert len(said) == 1
    assert said[0]["meters"] == 2 and "2 no_model" in said[0]["reasons"]
    assert "wait behind these" in said[0]["note"]
