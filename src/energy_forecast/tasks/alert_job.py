"""The scheduler's *alerts* job: evaluate every meter's alert rules against its newest readings.

Unlike the other jobs it does the work itself instead of enqueueing tasks: an evaluation is two
reads and a comparison per meter, and the Redis hash it writes makes a raise visible (and announced)
once whichever host runs the scheduler. Webhook posts go out on their own thread.
"""

from __future__ import annotations

import redis

from energy_forecast.domain.meters import MeterType
from energy_forecast.logging import get_logger
from energy_forecast.services.alerts import AlertService, list_alerts, notifier_from
from energy_forecast.settings import AlertSettings
from energy_forecast.storage.base import SeriesStore
from energy_forecast.tasks.scheduler import Job, JobOutcome

JOB_NAME = "alerts"
log = get_logger(__name__)


def alert_job(store: SeriesStore, client: redis.Redis, settings: AlertSettings) -> Job:
    service = AlertService(store, client, settings, notifier_from(settings))

    def run() -> JobOutcome:
        events = service.evaluate_all()
        raised = sum(e["event"] == "alert.raised" for e in events)
        cleared = sum(e["event"] == "alert.cleared" for e in events)
        active = len(list_alerts(client, state="active"))
        return JobOutcome(
            detail=f"{raised} raised, {cleared} cleared, {active} active",
            extra={"raised": raised, "cleared": cleared, "active": active},
        )

    return Job(JOB_NAME, settings.every, run)


def evaluate_after_import(
    store: SeriesStore, client: redis.Redis, settings: AlertSettings, meter_type: MeterType, meter_id: str
) -> None:
    """Evaluate one meter's rules right after its readings arrived, so an alert is raised (or
    cleared) with the data rather than up to ``every`` later. One meter, the same two reads and
    comparison as the job's; a failure is logged, never raised (the import has succeeded)."""
    if not settings.enabled:
        return
    try:
        AlertService(store, client, settings, notifier_from(settings)).evaluate(meter_type, meter_id)
    except Exception:  # the readings are stored; the next alerts job evaluates again
        log.exception("alert_evaluation_failed", meter_id=meter_id)
