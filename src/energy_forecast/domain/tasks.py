"""Background-task vocabulary shared by services, the task layer and the API.

States and their percentages are the seed's (``task_progress:{id}``); a service reports stage
boundaries through a ``ProgressReporter`` and never learns where the record is kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from energy_forecast.errors import ErrorType


class TaskState(StrEnum):
    """A task's lifecycle; ``progress`` is the seed's percentage for the state."""

    PENDING = "PENDING"
    STARTED = "STARTED"
    CONNECTING = "CONNECTING"
    FETCHING_DATA = "FETCHING_DATA"
    VALIDATING_DATA = "VALIDATING_DATA"
    TRAINING_MODEL = "TRAINING_MODEL"
    SAVING_MODEL = "SAVING_MODEL"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELLED = "CANCELLED"

    @property
    def progress(self) -> int:
        return _PROGRESS[self]

    @property
    def terminal(self) -> bool:
        """No further state follows; the task will not run (again)."""
        return self in _TERMINAL


_PROGRESS: dict[TaskState, int] = {
    TaskState.PENDING: 0,
    TaskState.STARTED: 5,
    TaskState.CONNECTING: 10,
    TaskState.FETCHING_DATA: 15,
    TaskState.VALIDATING_DATA: 35,
    TaskState.TRAINING_MODEL: 50,
    TaskState.SAVING_MODEL: 90,
    TaskState.SUCCESS: 100,
    # Failure and cancellation have no percentage of their own: records keep the one reached.
    TaskState.FAILURE: 0,
    TaskState.CANCELLED: 0,
}
_TERMINAL = frozenset({TaskState.SUCCESS, TaskState.FAILURE, TaskState.CANCELLED})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class TaskProgress:
    """The ``task_progress:{id}`` record. Timestamps are UTC ISO-8601 strings."""

    task_id: str
    state: TaskState
    progress: int
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    started_at: str | None = None
    updated_at: str = field(default_factory=lambda: utc_now().isoformat())

    def to_dict(self) -> dict[str, Any]:
        # Written on every state change: a flat dict, not dataclasses.asdict's deep copy.
        return {
            "task_id": self.task_id,
            "state": self.state.value,
            "progress": self.progress,
            "message": self.message,
            "details": self.details,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskProgress:
        return cls(
            task_id=data["task_id"],
            state=TaskState(data["state"]),
            progress=int(data["progress"]),
            message=data.get("message", ""),
            details=data.get("details") or {},
            started_at=data.get("started_at"),
            updated_at=data.get("updated_at") or utc_now().isoformat(),
        )


@dataclass(frozen=True, slots=True)
class TaskError:
    """The ``task_error:{id}`` record, written once when a task fails for good."""

    error: str
    error_type: ErrorType
    traceback: str
    timestamp: str = field(default_factory=lambda: utc_now().isoformat())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["error_type"] = self.error_type.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskError:
        return cls(
            error=data["error"],
            error_type=ErrorType(data["error_type"]),
            traceback=data.get("traceback", ""),
            timestamp=data.get("timestamp") or utc_now().isoformat(),
        )


class TaskCancelled(Exception):
    """Raised by ``ProgressReporter.stage`` when a cancel was requested; the task ends CANCELLED."""

    def __init__(self, task_id: str) -> None:
        super().__init__(f"task {task_id} was cancelled")
        self.task_id = task_id


class ProgressReporter(Protocol):
    """What a long-running service calls at each stage boundary.

    Implementations may raise ``TaskCancelled`` from ``stage`` so that a cancelled task stops at
    the next boundary; services must let it propagate.

    ``task_id`` names the task whose work this is (``None`` outside a task): a service records it
    with what it saves. ``redelivered`` is true when an earlier attempt of the same task may have
    got as far as saving before its process died, so the service looks for that result first.
    """

    @property
    def task_id(self) -> str | None: ...

    @property
    def redelivered(self) -> bool: ...

    def stage(self, state: TaskState, message: str, details: dict[str, Any] | None = None) -> None: ...


class NullReporter:
    """A reporter for direct (CLI, test) calls that nobody watches."""

    task_id: str | None = None
    redelivered: bool = False

    def stage(self, state: TaskState, message: str, details: dict[str, Any] | None = None) -> None:
        return None


@dataclass(slots=True)
class RecordingReporter:
    """An in-memory reporter: keeps every stage, for tests of services."""

    stages: list[tuple[TaskState, str, dict[str, Any]]] = field(default_factory=list)
    task_id: str | None = None
    redelivered: bool = False

    def stage(self, state: TaskState, message: str, details: dict[str, Any] | None = None) -> None:
        self.stages.append((state, message, dict(details or {})))
