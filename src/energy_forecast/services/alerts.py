"""Alert state in Redis: evaluate a meter's rules, raise and clear alerts, list them, notify.

Evaluation replays a recent window (``ml.alerts``): the band rule compares the stored readings with
the forecasts published for the same hours (the latest published version of each hour), the night
rules (water meters) read the night minima of the last few weeks. The episodes found are matched
with the alerts stored before: a new episode raises an alert, an episode that ended clears it,
one still going updates its figures. Redis holds every alert, so any host (API, worker,
scheduler) sees the same list and a raise is announced once.

Redis layout: hash ``ef_alerts`` (alert id -> JSON), the id being
``<meter_type>:<meter_id>:<rule>:<since ISO>``. Cleared alerts are kept ``keep_cleared``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
import redis

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.domain.tasks import utc_now
from energy_forecast.logging import get_logger
from energy_forecast.ml.alerts import (
    BAND,
    NIGHT_THRESHOLD,
    NIGHT_TREND,
    BandRule,
    Episode,
    NightRule,
    band_bounds,
    band_episodes,
    night_minima,
    threshold_episodes,
    trend_episodes,
)
from energy_forecast.services.alert_webhook import WebhookNotifier
from energy_forecast.settings import AlertSettings
from energy_forecast.storage.base import SeriesStore

log = get_logger(__name__)

ALERTS_KEY = "ef_alerts"
ACTIVE, CLEARED = "active", "cleared"


def rules_from(settings: AlertSettings) -> tuple[BandRule, NightRule]:
    band = BandRule(settings.band_lower, settings.band_upper, settings.raise_hours, settings.clear_hours)
    night = NightRule(
        start_hour=settings.night_start_hour,
        end_hour=settings.night_end_hour,
        threshold=settings.night_threshold,
        trend_nights=settings.trend_nights,
        baseline_nights=settings.baseline_nights,
        rise_fraction=settings.rise_fraction,
        clear_nights=settings.clear_nights,
    )
    return band, night


def notifier_from(settings: AlertSettings) -> WebhookNotifier | None:
    if not settings.webhook_url:
        return None
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    return WebhookNotifier(
        settings.webhook_url, secret, retries=settings.webhook_retries, timeout_s=settings.webhook_timeout_s
    )


def latest_forecast(forecast: pd.DataFrame) -> pd.DataFrame:
    """One row per hour: the newest model's (``v10`` after ``v9``; a same-hour fallback, tagged
    ``substituted``, only where no model published that hour)."""
    if forecast.empty:
        return forecast
    tags = (
        forecast["model_version"].astype(str)
        if "model_version" in forecast
        else pd.Series("", forecast.index)
    )
    number = tags.str.extract(r"^v(\d+)$", expand=False).astype("float64").fillna(-1.0)
    order = pd.DataFrame({"ts": forecast.index, "rank": number.to_numpy()}).sort_values(
        ["ts", "rank"], kind="stable"
    )
    ranked = forecast.iloc[order.index.to_numpy()]
    return ranked[~ranked.index.duplicated(keep="last")]


class AlertService:
    """Evaluates and stores the alerts of the meters of one store."""

    def __init__(
        self,
        store: SeriesStore,
        client: redis.Redis,
        settings: AlertSettings,
        notifier: WebhookNotifier | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.settings = settings
        self.band_rule, self.night_rule = rules_from(settings)
        self.notifier = notifier

    # -- evaluation -------------------------------------------------------------------------------

    def evaluate(
        self,
        meter_type: MeterType,
        meter_id: str,
        now: datetime | None = None,
        *,
        wait: bool = False,
        known: dict[str, dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        """Evaluate one meter's rules up to ``now``; returns the events (raised / cleared) it caused,
        which were also sent to the webhook (``wait`` joins the delivery thread, for tests).

        ``known`` is every stored alert, read once by ``evaluate_all`` instead of once per meter.
        A rule without data in its window (no forecast published, no readings) is not evaluated:
        its active alerts stay as they are rather than clearing for want of readings."""
        end = pd.Timestamp(now or utc_now()).tz_convert("UTC").floor("h")
        meter = self.store.get_meter(meter_id)
        tz = meter.timezone if meter is not None else "UTC"
        unit = meter.unit if meter is not None else ""
        episodes, band_info = self._band(meter_type, meter_id, end)
        evaluated = {BAND} if band_info else set()
        if meter_type is MeterType.WATER:
            night = self._night(meter_type, meter_id, end, tz)
            if night is not None:
                episodes += night
                evaluated |= {NIGHT_THRESHOLD, NIGHT_TREND}
        known = read_alerts(self.client) if known is None else known
        prefix = f"{meter_type.value}:{meter_id}:"
        stored = {k: v for k, v in known.items() if k.startswith(prefix)}
        events = self._sync(prefix, meter_type, meter_id, episodes, evaluated, stored, end, unit, band_info)
        if events and self.notifier is not None:
            thread = self.notifier.notify(events)
            if wait and thread is not None:
                thread.join()
        for event in events:
            log.info("alert_" + event["event"].split(".")[-1], alert_id=event["alert"]["id"])
        return events

    def evaluate_all(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every registered meter (the scheduler's alerts job); a failing meter is logged and skipped."""
        return self._evaluate_each(self.store.list_meters(), now)

    def evaluate_arrived(self, meter_ids: Iterable[str], now: datetime | None = None) -> list[dict[str, Any]]:
        """The meters whose readings just arrived (an import), evaluated now rather than at the next
        alerts job, so a fault is raised as soon as its hours are stored. Unknown ids are skipped."""
        meters = [m for m in (self.store.get_meter(i) for i in dict.fromkeys(meter_ids)) if m is not None]
        return self._evaluate_each(meters, now)

    def _evaluate_each(self, meters: Iterable[Meter], now: datetime | None) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        known = read_alerts(self.client)
        for meter in meters:
            try:
                events += self.evaluate(meter.meter_type, meter.meter_id, now, known=known)
            except Exception:  # one meter's bad data must not stop the others
                log.exception("alert_evaluation_failed", meter_id=meter.meter_id)
        return events

    def _band(
        self, meter_type: MeterType, meter_id: str, end: pd.Timestamp
    ) -> tuple[list[Episode], dict[str, Any]]:
        start = end - pd.Timedelta(self.settings.lookback)
        forecast = latest_forecast(self.store.read_forecast(meter_type, meter_id, start, end))
        if forecast.empty:
            return [], {}
        try:
            lower, upper, info = band_bounds(forecast, self.band_rule)
        except ValueError:
            return [], {}
        actual = self.store.read_readings(meter_type, meter_id, start, end)
        if actual.empty:
            return [], {}
        episodes = band_episodes(actual, lower, upper, self.band_rule)
        return episodes, info

    def _night(
        self, meter_type: MeterType, meter_id: str, end: pd.Timestamp, tz: str
    ) -> list[Episode] | None:
        r = self.night_rule
        readings = self.store.read_readings(meter_type, meter_id, end - self._night_window(), end)
        minima = night_minima(readings, tz, r)
        if minima.empty:
            return None
        return threshold_episodes(minima, r) + trend_episodes(minima, r)

    # -- state ------------------------------------------------------------------------------------

    def _sync(
        self,
        prefix: str,
        meter_type: MeterType,
        meter_id: str,
        episodes: list[Episode],
        evaluated: set[str],
        stored: dict[str, dict[str, Any]],
        end: pd.Timestamp,
        unit: str,
        band_info: dict[str, Any],
    ) -> list[dict[str, Any]]:
        active = {k: v for k, v in stored.items() if v["state"] == ACTIVE}
        now_iso = utc_now().isoformat()
        events: list[dict[str, Any]] = []
        writes: dict[str, dict[str, Any]] = {}
        matched: set[str] = set()
        for episode in sorted(episodes, key=lambda e: e.since):
            alert_id = self._match(prefix, episode, stored, matched)
            figures = episode.to_dict()
            if episode.rule == BAND:
                figures["detail"] = {**figures["detail"], **band_info}
            if alert_id in stored:
                alert = stored[alert_id]
                if alert["state"] == CLEARED:
                    continue
                _carry_worst(alert, figures)  # a continuation seen from a later window
            else:
                alert = {
                    "id": alert_id,
                    "meter_type": meter_type.value,
                    "meter_id": meter_id,
                    "unit": unit,
                    "raised_at": now_iso,
                }
                events.append(self._event("alert.raised", {**alert, **figures, "state": ACTIVE}))
            matched.add(alert_id)
            alert.update(figures)
            alert["state"] = ACTIVE if episode.active else CLEARED
            if not episode.active:
                alert["cleared_at"] = figures["cleared_at"]
                events.append(self._event("alert.cleared", alert))
            writes[alert_id] = alert
        for alert_id, alert in active.items():
            if alert_id in matched or alert["rule"] not in evaluated:
                continue
            alert.update(state=CLEARED, cleared_at=end.isoformat())  # nothing outside any more
            writes[alert_id] = alert
            events.append(self._event("alert.cleared", alert))
        if writes:
            self.client.hset(ALERTS_KEY, mapping={k: json.dumps(v) for k, v in writes.items()})
        self._expire(stored, end)
        return events

    @staticmethod
    def _match(prefix: str, episode: Episode, stored: dict[str, dict[str, Any]], taken: set[str]) -> str:
        """The stored alert this episode is (or continues), else a new id.

        A window that starts inside an earlier episode sees it begin at the window's first hour: a
        stored alert of the same rule whose outside hours span the episode's start is that alert."""
        for alert_id, alert in stored.items():
            if alert_id in taken or alert["rule"] != episode.rule:
                continue
            if pd.Timestamp(alert["since"]) <= episode.since <= pd.Timestamp(alert["last_outside"]):
                return alert_id
        return f"{prefix}{episode.rule}:{episode.since.isoformat()}"

    def _night_window(self) -> pd.Timedelta:
        r = self.night_rule
        return pd.Timedelta(days=r.baseline_nights + r.trend_nights + r.clear_nights + 2)

    def _expire(self, stored: dict[str, dict[str, Any]], end: pd.Timestamp) -> None:
        """Forget cleared alerts after ``keep_cleared``, but never while the rule's replay window
        still reaches them (a forgotten episode seen again would be raised again)."""
        keep = pd.Timedelta(self.settings.keep_cleared)
        window = {BAND: pd.Timedelta(self.settings.lookback)}
        old = [
            k
            for k, v in stored.items()
            if v["state"] == CLEARED
            and pd.Timestamp(v["cleared_at"]) < end - max(keep, window.get(v["rule"], self._night_window()))
        ]
        if old:
            self.client.hdel(ALERTS_KEY, *old)

    @staticmethod
    def _event(name: str, alert: dict[str, Any]) -> dict[str, Any]:
        return {"event": name, "sent_at": utc_now().isoformat(), "alert": dict(alert)}

    # -- reading ----------------------------------------------------------------------------------

    def list(self, **filters: str | None) -> list[dict[str, Any]]:
        return list_alerts(self.client, **filters)


def read_alerts(client: redis.Redis) -> dict[str, dict[str, Any]]:
    """Every stored alert by id."""
    return {_text(k): json.loads(v) for k, v in client.hgetall(ALERTS_KEY).items()}


def list_alerts(
    client: redis.Redis,
    *,
    meter_type: str | None = None,
    meter_id: str | None = None,
    rule: str | None = None,
    state: str | None = None,
) -> list[dict[str, Any]]:
    """Alerts matching every filter given: active first, then the most recent first."""
    found = [
        a
        for a in read_alerts(client).values()
        if (meter_type is None or a["meter_type"] == meter_type)
        and (meter_id is None or a["meter_id"] == meter_id)
        and (rule is None or a["rule"] == rule)
        and (state is None or a["state"] == state)
    ]
    found.sort(key=lambda a: a["since"], reverse=True)
    found.sort(key=lambda a: a["state"] != ACTIVE)
    return found


def active_counts(client: redis.Redis) -> dict[tuple[str, str], int]:
    """Active alerts per (meter_type, rule): what the Prometheus gauge shows."""
    counts: dict[tuple[str, str], int] = {}
    for raw in client.hvals(ALERTS_KEY):
        alert = json.loads(raw)
        if alert.get("state") == ACTIVE:
            key = (alert["meter_type"], alert["rule"])
            counts[key] = counts.get(key, 0) + 1
    return counts


WORST = ("worst_value", "worst_bound", "worst_excess", "worst_excess_bands", "direction")


def _carry_worst(stored: dict[str, Any], figures: dict[str, Any]) -> None:
    """Keep what a later window no longer sees: the start, the worst hour, the count of hours."""
    figures["since"] = stored["since"]
    if (stored.get("worst_excess") or 0.0) > (figures.get("worst_excess") or 0.0):
        figures.update({key: stored.get(key) for key in WORST})
    figures["hours_outside"] = max(int(stored.get("hours_outside") or 0), int(figures["hours_outside"]))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
