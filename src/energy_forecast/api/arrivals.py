"""Alerts evaluated as readings arrive: after an import over HTTP, the imported meters' rules run in
the background, so a fault shows at ``GET /alerts/`` (and reaches the webhook) without waiting for
the scheduler's next alerts job. Imports made without a service are picked up by that job."""

from __future__ import annotations

from collections.abc import Iterable

import redis
from starlette.applications import Starlette

from energy_forecast.logging import get_logger
from energy_forecast.services.alerts import AlertService, notifier_from
from energy_forecast.settings import AlertSettings
from energy_forecast.storage.base import SeriesStore

log = get_logger(__name__)


def open_arrival_alerts(
    app: Starlette, store: SeriesStore, client: redis.Redis, settings: AlertSettings
) -> None:
    """Keep the alert service imports report to (none when alerts are off)."""
    app.state.arrival_alerts = (
        AlertService(store, client, settings, notifier_from(settings)) if settings.enabled else None
    )


def after_import(app: Starlette, meter_ids: Iterable[str]) -> None:
    """Evaluate the rules of the meters an import wrote; never fails the import that called it."""
    service: AlertService | None = getattr(app.state, "arrival_alerts", None)
    wanted = list(meter_ids)
    if service is None or not wanted:
        return
    try:
        events = service.evaluate_arrived(wanted)
    except Exception:  # Redis down or a store error: the scheduler's job evaluates them later
        log.exception("arrival_alerts_failed", meters=len(wanted))
        return
    if events:
        log.info("arrival_alerts", meters=len(wanted), events=len(events))
