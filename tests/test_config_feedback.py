"""Configuration that talks back: readable durations, unknown EF_* names, errors with an example."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner

from energy_forecast.cli.app import app
from energy_forecast.config_feedback import known_variables, parse_duration, unknown_variable_lines
from energy_forecast.errors import ConfigurationError
from energy_forecast.settings import Settings, load_settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", timedelta(hours=1)),
        ("30m", timedelta(minutes=30)),
        ("7d", timedelta(days=7)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(minutes=90)),
        ("2 hours", timedelta(hours=2)),
        ("1.5h", timedelta(minutes=90)),
        ("2w", timedelta(days=14)),
    ],
)
def test_short_durations_are_read(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_iso_and_plain_seconds_are_left_to_pydantic_and_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EF_TASK_TIME_LIMIT", "PT2H")
    monkeypatch.setenv("EF_REQUEST_TIMEOUT", "45")
    monkeypatch.setenv("EF_SCHEDULE__TICK", "30s")
    monkeypatch.setenv("EF_WEATHER__COOLDOWN", "2m")

    settings = load_settings()

    assert settings.task_time_limit == timedelta(hours=2)
    assert settings.request_timeout == timedelta(seconds=45)
    assert settings.schedule.tick == timedelta(seconds=30)
    assert settings.weather.cooldown == timedelta(minutes=2)


def test_the_one_the_user_tried_now_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EF_TASK_TIME_LIMIT", "1h")

    assert load_settings().task_time_limit == timedelta(hours=1)


@pytest.mark.parametrize(
    ("env", "value", "fragments"),
    [
        (
            "EF_TASK_TIME_LIMIT",
            "1 fortnight",
            ["EF_TASK_TIME_LIMIT", "'1 fortnight'", "EF_TASK_TIME_LIMIT=1h"],
        ),
        ("EF_SCHEDULE__TICK", "soon", ["EF_SCHEDULE__TICK", "'soon'", "30m"]),
        ("EF_PORT", "eighty", ["EF_PORT", "'eighty'", "EF_PORT=8000"]),
        ("EF_LOG_LEVEL", "LOUD", ["EF_LOG_LEVEL", "'LOUD'", "one of DEBUG, INFO"]),
        ("EF_AUTH_REQUIRED", "perhaps", ["EF_AUTH_REQUIRED", "'perhaps'", "true (or false)"]),
        ("REDIS_URL", "http://x", ["REDIS_URL", "'http://x'", "must start with redis://"]),
    ],
)
def test_an_invalid_value_names_the_variable_the_value_and_an_example(
    env: str, value: str, fragments: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env, value)

    with pytest.raises(ConfigurationError) as caught:
        load_settings()

    for fragment in fragments:
        assert fragment in caught.value.message


def test_a_too_short_duration_says_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EF_TASK_RETENTION", "5m")

    with pytest.raises(ConfigurationError, match=r"EF_TASK_RETENTION.*'5m'.*at least 10 minutes"):
        load_settings()


def test_known_variables_cover_nested_sections() -> None:
    known = set(known_variables(Settings))

    assert {"EF_HOME", "EF_INFLUX__URL", "EF_SCHEDULE__TICK", "EF_WEATHER__PROVIDERS"} <= known


def test_unknown_variables_are_named_with_the_closest_known_one() -> None:
    environ = {
        "EF_HOEM": "/tmp/x",
        "EF_HOME": "/tmp/y",
        "EF_SCHEDULE__TIKC": "1m",
        "EF_ZZZZZZZZ": "1",
        "EF_TEST_REDIS_PORT": "16379",  # the test tooling's own
        "PATH": "/bin",
    }

    lines = unknown_variable_lines(environ, Settings)

    assert len(lines) == 3
    assert "EF_HOEM" in lines[0] and "did you mean EF_HOME?" in lines[0]
    assert "EF_SCHEDULE__TIKC" in lines[1] and "EF_SCHEDULE__TICK" in lines[1]
    assert "EF_ZZZZZZZZ" in lines[2] and "did you mean" not in lines[2]


def test_the_cli_names_an_unknown_variable_at_start(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EF_HOEM", str(tmp_path / "typo"))

    result = CliRunner().invoke(app, ["meters"])

    assert result.exit_code == 0, result.output
    assert "warning: EF_HOEM is not a setting" in result.stderr
    assert "did you mean EF_HOME?" in result.stderr


def test_the_cli_prints_one_line_for_a_bad_duration(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EF_TASK_TIME_LIMIT", "an hour or so")

    result = CliRunner().invoke(app, ["meters"])

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "EF_TASK_TIME_LIMIT" in result.stderr and "'an hour or so'" in result.stderr
