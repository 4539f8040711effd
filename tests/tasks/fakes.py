"""A fake training service injected through the worker context (never by patching modules)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from energy_forecast.domain.tasks import ProgressReporter, TaskState

STAGES = (
    TaskState.CONNECTING,
    TaskState.FETCHING_DATA,
    TaskState.VALIDATING_DATA,
    TaskState.TRAINING_MODEL,
    TaskState.SAVING_MODEL,
)


@dataclass
class FakeTraining:
    """Walks the seed's stages; ``fail`` raises at TRAINING_MODEL, ``gate`` pauses there.

    ``calls`` and ``redelivered`` list the runs that got past CONNECTING, as the real service
    does no work before it.
    """

    fail: Callable[[], BaseException] | None = None
    gate: threading.Event | None = None
    hold: float = 0.0
    # Like a C extension's callback, which swallows the time limit's asynchronous exception.
    swallow_interrupts: bool = False
    calls: list[tuple[str, float]] = field(default_factory=list)
    redelivered: list[bool] = field(default_factory=list)
    reached_training: threading.Event = field(default_factory=threading.Event)

    def __call__(
        self,
        store: Any,
        model_store: Any,
        *,
        meter_id: str,
        meter_type: Any,
        start: Any,
        end: Any,
        reporter: ProgressReporter,
    ) -> dict[str, Any]:
        for state in STAGES:
            reporter.stage(state, state.value.lower().replace("_", " "))
            if state is TaskState.CONNECTING:
                # Past the first stage, which is where a task refused at its start stops (the
                # training actor's STARTED goes with it): only from here is it a training call.
                self.calls.append((meter_id, time.monotonic()))
                self.redelivered.append(reporter.redelivered)
            if state is TaskState.TRAINING_MODEL:
                self.reached_training.set()
                if self.gate is not None:
                    self.gate.wait(10)
                deadline = time.monotonic() + self.hold
                while time.monotonic() < deadline:  # small sleeps so a time limit can interrupt
                    try:
                        time.sleep(0.05)
                    except BaseException:
                        if not self.swallow_interrupts:
                            raise
                if self.fail is not None:
                    raise self.fail()
        return {"meter_id": meter_id, "meter_type": str(meter_type), "data_points": 24}


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll until ``condition()`` is truthy; returns its value or fails the test at ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
