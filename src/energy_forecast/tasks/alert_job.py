"""The scheduler's *alerts* job: evaluate every meter's alert rules against its newest readings.

Unlike the other jobs it does the work itself instead of enqueueing tasks: an evaluation is two
reads and a comparison per meter, and the Redis hash it writes makes a raise visible (and announced)
once whichever host runs the scheduler. Webhook posts go out on their own thread.
"""

from __future__ import annotations

import redis

from energy_forecast.services.alerts import AlertService, list_alerts, notifier_from
from energy_forecast.settings import AlertSettings
from energy_forecast.storage.base import SeriesStore
from energy_forecast.tasks.scheduler import Job, JobOutcome

JOB_NAME = "alerts"


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
