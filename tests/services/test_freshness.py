"""Which meters the scheduler trains: no model, past the maximum age, or drifted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from energy_forecast.domain.meters import MeterType
from energy_forecast.services.freshness import Reason, backoff, plan_training

E, W = MeterType.ELECTRICITY, MeterType.WATER
NOW = datetime(2024, 6, 1, tzinfo=UTC)
AGE = timedelta(days=7)


def test_plan_training_names_each_meter_that_needs_a_model_once_with_its_reason() -> None:
    meters = [("new", E), ("old", E), ("fresh", W), ("drifted", W), ("old_and_drifted", E)]
    last = {
        (E, "old"): NOW - timedelta(days=8),
        (W, "fresh"): NOW - timedelta(days=1),
        (W, "drifted"): NOW - timedelta(days=1),
        (E, "old_and_drifted"): NOW - timedelta(days=30),
    }
    drifted = {(W, "drifted"), (E, "old_and_drifted")}

    plan = plan_training(meters, last, drifted, now=NOW, max_age=AGE)

    assert [(c.meter_id, c.reason) for c in plan] == [
        ("new", Reason.NO_MODEL),
        ("old", Reason.MAX_AGE),
        ("drifted", Reason.DRIFT),
        ("old_and_drifted", Reason.MAX_AGE),
    ]


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        pytest.param(0, timedelta(0), id="none"),
        pytest.param(1, timedelta(minutes=2), id="one"),
        pytest.param(3, timedelta(minutes=8), id="three"),
        pytest.param(30, AGE, id="capped"),
    ],
)
def test_backoff_doubles_per_failure_up_to_the_ceiling(failures: int, expected: timedelta) -> None:
    assert backoff(failures, timedelta(minutes=1), AGE) == expected
