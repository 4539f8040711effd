"""Error classification, without Redis."""

from __future__ import annotations

import pytest
import redis
from dramatiq.middleware import TimeLimitExceeded

from energy_forecast.errors import (
    ErrorType,
    InsufficientDataError,
    NoDataFoundError,
    QueueUnavailableError,
    StorageError,
    TrainingError,
)
from energy_forecast.tasks.actors import NOT_RETRIED
from energy_forecast.tasks.middleware import classify


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(NoDataFoundError("x"), ErrorType.NO_DATA_FOUND, id="no-data"),
        pytest.param(InsufficientDataError("x"), ErrorType.INSUFFICIENT_DATA, id="insufficient"),
        pytest.param(TrainingError("x"), ErrorType.TRAINING_ERROR, id="training"),
        pytest.param(StorageError("x"), ErrorType.CONNECTION_ERROR, id="storage"),
        pytest.param(QueueUnavailableError("x"), ErrorType.CONNECTION_ERROR, id="queue"),
        pytest.param(redis.TimeoutError(), ErrorType.CONNECTION_ERROR, id="redis-timeout"),
        pytest.param(ConnectionRefusedError(), ErrorType.CONNECTION_ERROR, id="os-connection"),
        pytest.param(MemoryError(), ErrorType.MEMORY_ERROR, id="memory"),
        pytest.param(TimeLimitExceeded(), ErrorType.TIMEOUT_ERROR, id="time-limit"),
        pytest.param(KeyError("col"), ErrorType.TRAINING_ERROR, id="unexpected"),
    ],
)
def test_exceptions_map_to_the_seed_error_types(exc: BaseException, expected: ErrorType) -> None:
    assert classify(exc) is expected


@pytest.mark.parametrize(
    ("exc", "retried"),
    [
        pytest.param(NoDataFoundError("x"), False, id="no-data"),
        pytest.param(TimeLimitExceeded(), False, id="time-limit"),
        pytest.param(StorageError("x"), True, id="storage"),
        pytest.param(RuntimeError("x"), True, id="generic"),
    ],
)
def test_only_transient_errors_are_retried(exc: BaseException, retried: bool) -> None:
    assert (not isinstance(exc, NOT_RETRIED)) is retried
