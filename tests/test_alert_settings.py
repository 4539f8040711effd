"""EF_ALERTS__* settings: parsed from the environment, refused with a message that says what to fix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from energy_forecast.services.alerts import notifier_from, rules_from
from energy_forecast.settings import AlertSettings, load_settings


def test_alert_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EF_ALERTS__EVERY", "PT5M")
    monkeypatch.setenv("EF_ALERTS__RAISE_HOURS", "4")
    monkeypatch.setenv("EF_ALERTS__NIGHT_THRESHOLD", "3.5")
    monkeypatch.setenv("EF_ALERTS__WEBHOOK_URL", "https://hooks.example.org/ef")
    monkeypatch.setenv("EF_ALERTS__WEBHOOK_SECRET", "s3cret")
    alerts = load_settings().alerts
    assert alerts.every == timedelta(minutes=5) and alerts.raise_hours == 4
    band, night = rules_from(alerts)
    assert (band.lower_level, band.upper_level, band.raise_hours) == (0.01, 0.99, 4)
    assert night.threshold == 3.5 and night.start_hour == 1 and night.end_hour == 5
    notifier = notifier_from(alerts)
    assert (
        notifier is not None
        and notifier.url == "https://hooks.example.org/ef"
        and notifier.secret == "s3cret"
    )
    assert "s3cret" not in repr(alerts)
    assert notifier_from(AlertSettings()) is None  # no URL, no webhook


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("webhook_url", "ftp://hooks.example.org", "must start with http:// or https://"),
        ("every", "PT0S", "at least 1 second"),
        ("band_upper", "0.4", "greater than 0.5"),
        ("raise_hours", "0", "greater than or equal to 1"),
    ],
)
def test_bad_alert_settings_are_refused(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AlertSettings.model_validate({field: value})


def test_every_alert_setting_says_what_it_means() -> None:
    assert all(field.description for field in AlertSettings.model_fields.values())
