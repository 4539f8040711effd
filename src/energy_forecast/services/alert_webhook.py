"""Webhook delivery of alert events: a signed JSON POST per raise and clear, retried with backoff.

The receiver checks ``X-EnergyForecast-Signature: sha256=<hex>``, the HMAC-SHA256 of
``<timestamp>.<body>`` under the shared secret, where ``<timestamp>`` is the
``X-EnergyForecast-Timestamp`` header (Unix seconds): signing the timestamp with the body lets the
receiver refuse replays of an old post. Delivery runs on a background thread so an import or a
scheduler job never waits on a slow receiver; a post that still fails after the bounded retries is
logged and dropped (the alert itself stays listed at ``GET /alerts/`` and in the metric).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from energy_forecast.logging import get_logger, redact_text

log = get_logger(__name__)

SIGNATURE_HEADER = "X-EnergyForecast-Signature"
TIMESTAMP_HEADER = "X-EnergyForecast-Timestamp"
EVENT_HEADER = "X-EnergyForecast-Event"
MAX_BACKOFF_S = 30.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of ``timestamp.body`` under ``secret``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (constant-time comparison); used by the tests and shown in the docs."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookNotifier:
    """Posts alert events to one URL; ``notify`` returns at once, ``deliver`` is the blocking part."""

    def __init__(
        self,
        url: str,
        secret: str | None = None,
        *,
        retries: int = 3,
        timeout_s: float = 5.0,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.secret = secret
        self.retries = retries
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.sleep = sleep

    def notify(self, events: Sequence[dict[str, Any]]) -> threading.Thread | None:
        """Deliver ``events`` in order on a daemon thread (returned so tests can join it)."""
        if not events:
            return None
        thread = threading.Thread(
            target=self._deliver_all, args=(list(events),), name="alert-webhook", daemon=True
        )
        thread.start()
        return thread

    def _deliver_all(self, events: list[dict[str, Any]]) -> None:
        try:
            with httpx.Client(timeout=self.timeout_s) as client:
                for event in events:
                    self.deliver(event, client)
        except Exception:  # a delivery thread must never take anything down with it
            log.exception("alert_webhook_crashed", url=redact_text(self.url))

    def deliver(self, event: dict[str, Any], client: httpx.Client | None = None) -> bool:
        """POST one event; retry connection errors, 429 and 5xx up to ``retries`` times with
        doubling backoff (capped); True when the receiver answered 2xx."""
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
        own = client is None
        http = client or httpx.Client(timeout=self.timeout_s)
        try:
            for attempt in range(self.retries + 1):
                timestamp = str(int(time.time()))
                headers = {
                    "Content-Type": "application/json",
                    TIMESTAMP_HEADER: timestamp,
                    EVENT_HEADER: str(event.get("event", "")),
                }
                if self.secret:
                    headers[SIGNATURE_HEADER] = sign(self.secret, timestamp, body)
                error: str
                try:
                    response = http.post(self.url, content=body, headers=headers)
                    if response.is_success:
                        return True
                    error = f"HTTP {response.status_code}"
                    if response.status_code < 500 and response.status_code != 429:
                        break  # the receiver refuses this post: retrying will not change its mind
                except httpx.HTTPError as exc:
                    error = type(exc).__name__
                if attempt < self.retries:
                    self.sleep(min(self.backoff_s * 2**attempt, MAX_BACKOFF_S))
            log.warning(
                "alert_webhook_failed",
                url=redact_text(self.url),
                alert_event=event.get("event"),
                error=error,
                alert_id=event.get("alert", {}).get("id"),
            )
            return False
        finally:
            if own:
                http.close()
