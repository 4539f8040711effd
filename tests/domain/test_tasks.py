"""Task states, records and reporters."""

from __future__ import annotations

import pytest

from energy_forecast.domain.tasks import (
    RecordingReporter,
    TaskError,
    TaskProgress,
    TaskState,
)
from energy_forecast.errors import ErrorType


def test_states_carry_the_seed_percentages() -> None:
    percentages = {state.value: state.progress for state in TaskState if not state.terminal}
    assert percentages == {
        "PENDING": 0,
        "STARTED": 5,
        "CONNECTING": 10,
        "FETCHING_DATA": 15,
        "VALIDATING_DATA": 35,
        "TRAINING_MODEL": 50,
        "SAVING_MODEL": 90,
    }
    assert TaskState.SUCCESS.progress == 100


@pytest.mark.parametrize("state", ["SUCCESS", "FAILURE", "CANCELLED"])
def test_terminal_states(state: str) -> None:
    assert TaskState(state).terminal


def test_progress_record_round_trips_through_a_dict() -> None:
    record = TaskProgress("t1", TaskState.TRAINING_MODEL, 50, "Training model...", {"rows": 3}, "2025-06-19")

    assert TaskProgress.from_dict(record.to_dict()) == record
    assert record.to_dict()["state"] == "TRAINING_MODEL"


def test_error_record_round_trips_through_a_dict() -> None:
    error = TaskError("Connection timeout", ErrorType.CONNECTION_ERROR, "Traceback ...")

    assert TaskError.from_dict(error.to_dict()) == error
    assert set(error.to_dict()) == {"error", "error_type", "traceback", "timestamp"}


def test_recording_reporter_keeps_stages_in_order() -> None:
    reporter = RecordingReporter()
    reporter.stage(TaskState.CONNECTING, "connecting")
    reporter.stage(TaskState.FETCHING_DATA, "fetching", {"rows": 10})

    assert [s for s, _, _ in reporter.stages] == [TaskState.CONNECTING, TaskState.FETCHING_DATA]
    assert reporter.stages[1][2] == {"rows": 10}
