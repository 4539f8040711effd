"""Which meters need a training: no model yet, a model past its maximum age, or live accuracy drift.

``plan_training`` is the pure rule the scheduler's *train* job applies each tick; reading the
stores and the publication index, and enqueueing, stay with the job (``tasks/schedule_jobs.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from energy_forecast.domain.meters import MeterType


class Reason(StrEnum):
    NO_MODEL = "no_model"
    MAX_AGE = "max_age"
    DRIFT = "drift"
    # Its ensemble weights were learnt before its type's global member existed.
    ENSEMBLE = "ensemble"


@dataclass(frozen=True, slots=True)
class TrainCandidate:
    meter_id: str
    meter_type: MeterType
    reason: Reason


def plan_training(
    meters_with_readings: Iterable[tuple[str, MeterType]],
    last_trained: Mapping[tuple[MeterType, str], datetime | None],
    drifted: set[tuple[MeterType, str]],
    *,
    now: datetime,
    max_age: timedelta,
    incomplete: set[tuple[MeterType, str]] | frozenset[tuple[MeterType, str]] = frozenset(),
) -> list[TrainCandidate]:
    """One candidate per meter that needs training, in the order given.

    ``last_trained`` maps meters that have an active model to when their newest version (active
    or rejected) was saved: a meter whose retrain was just rejected is not retrained again until
    that newer attempt is itself past ``max_age``. ``drifted`` holds meters whose live CV(RMSE)
    exceeded the drift factor times their hold-out figure, for the model still active.
    ``incomplete`` holds meters whose ensemble lacks the global member trained since.
    """
    plan = []
    for meter_id, meter_type in meters_with_readings:
        key = (meter_type, meter_id)
        if key not in last_trained:
            plan.append(TrainCandidate(meter_id, meter_type, Reason.NO_MODEL))
            continue
        saved = last_trained[key]
        if saved is None or now - saved > max_age:
            plan.append(TrainCandidate(meter_id, meter_type, Reason.MAX_AGE))
        elif key in drifted:
            plan.append(TrainCandidate(meter_id, meter_type, Reason.DRIFT))
        elif key in incomplete:
            plan.append(TrainCandidate(meter_id, meter_type, Reason.ENSEMBLE))
    return plan


def backoff(failures: int, tick: timedelta, ceiling: timedelta) -> timedelta:
    """How long to wait before retrying a meter whose last ``failures`` trainings failed in a row."""
    if failures <= 0:
        return timedelta(0)
    return min(tick * (2 ** min(failures, 20)), ceiling)
