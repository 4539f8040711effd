"""Alert settings (``EF_ALERTS__*``): the rules that flag a meter leaving its forecast, and the webhook.

Kept apart from ``settings.py`` so that one reads as the list of top-level settings; the how-to is
``docs/how-to/alerts.md``.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator

from energy_forecast.config_feedback import Duration
from energy_forecast.logging import redact_text


class AlertSettings(BaseModel):
    """Alerts when a meter leaves its forecast band or a water meter's night flow climbs
    (docs/how-to/alerts.md); EF_ALERTS__<FIELD>."""

    enabled: bool = Field(
        default=True,
        description="Evaluate alert rules: on the scheduler's alerts job and after each import over HTTP.",
    )
    every: Duration = Field(
        default=timedelta(minutes=15), description="How often the scheduler evaluates alerts."
    )
    lookback: Duration = Field(
        default=timedelta(days=3), description="How many past hours the band rule replays at each evaluation."
    )
    band_lower: float = Field(
        default=0.01, gt=0, lt=0.5, description="Lower quantile of the band (0.01 = P1)."
    )
    band_upper: float = Field(
        default=0.99, gt=0.5, lt=1, description="Upper quantile of the band (0.99 = P99)."
    )
    raise_hours: int = Field(
        default=3, ge=1, le=168, description="Consecutive hours outside the band that raise."
    )
    clear_hours: int = Field(
        default=3, ge=1, le=168, description="Consecutive hours inside the band that clear."
    )
    night_start_hour: int = Field(default=1, ge=0, le=23, description="First local hour of the night window.")
    night_end_hour: int = Field(
        default=5, ge=1, le=24, description="Local hour the night window ends (exclusive)."
    )
    night_threshold: float | None = Field(
        default=None,
        ge=0,
        description="Water night minimum flow (m³/h) above which an alert is raised; unset = off.",
    )
    trend_nights: int = Field(
        default=3, ge=1, le=30, description="Nights in a row above the baseline that raise."
    )
    baseline_nights: int = Field(
        default=14, ge=3, le=90, description="Nights whose median minimum is the baseline."
    )
    rise_fraction: float = Field(
        default=0.2, gt=0, le=10, description="Rise over the baseline night minimum that counts (0.2 = 20 %)."
    )
    clear_nights: int = Field(default=2, ge=1, le=30, description="Nights back under the limit that clear.")
    keep_cleared: Duration = Field(
        default=timedelta(days=7), description="How long a cleared alert stays listed at GET /alerts/."
    )
    webhook_url: str | None = Field(
        default=None,
        description="URL that receives a JSON POST when an alert is raised or cleared; unset = off.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Key of the HMAC-SHA256 signature header of webhook posts."
    )
    webhook_retries: int = Field(default=3, ge=0, le=10, description="Retries of a failed webhook post.")
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Timeout of one webhook post.")

    @field_validator("every", "lookback", "keep_cleared")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1 second (ISO-8601 duration such as PT15M)")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if not value:
            return None
        if urlsplit(value).scheme not in {"http", "https"}:
            raise ValueError(
                f"EF_ALERTS__WEBHOOK_URL must start with http:// or https://, got {redact_text(value)!r}"
            )
        return value
