"""The reference pages are generated from the code at build time, so they cannot drift from it."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import pytest
from pydantic import Field

from energy_forecast import settings as settings_module
from energy_forecast.cli.app import app
from tests.docs.conftest import REPO

pytestmark = pytest.mark.usefixtures("hooks")


def test_a_setting_added_to_the_model_appears_in_the_built_settings_page(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    class WithANewSetting(settings_module.Settings):
        reading_horizon_days: int = Field(default=9, ge=1, description="how far back the test reads")

    monkeypatch.setattr(settings_module, "Settings", WithANewSetting)
    config = load_config(str(REPO / "mkdocs.yml"), site_dir=str(tmp_path / "site"), strict=True)

    build(config)

    page = (tmp_path / "site" / "reference" / "settings" / "index.html").read_text()
    assert "EF_READING_HORIZON_DAYS" in page
    assert "how far back the test reads" in page
    assert "EF_MODEL_STORE_URL" in page  # and the real ones are still there


def test_a_setting_without_a_meaning_fails_the_strict_build(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    reference = importlib.import_module("reference")

    class Undocumented(settings_module.Settings):
        mystery_knob: int = 3

    monkeypatch.setattr(settings_module, "Settings", Undocumented)
    with caplog.at_level(logging.WARNING, logger="mkdocs.hooks.reference"):
        pages = reference.generated_pages()

    assert "mystery_knob" in caplog.text and "has no meaning" in caplog.text
    assert "EF_MYSTERY_KNOB" in pages["reference/settings.md"]


def test_every_setting_command_and_route_is_on_its_page() -> None:
    reference = importlib.import_module("reference")
    pages = reference.generated_pages()

    settings_page = pages["reference/settings.md"]
    for name, info in settings_module.Settings.model_fields.items():
        nested = getattr(info.annotation, "model_fields", None)
        names = [f"EF_{name.upper()}__{sub.upper()}" for sub in nested] if nested else [f"EF_{name.upper()}"]
        for env in names:
            assert f"`{env}`" in settings_page, env
    assert "**undocumented**" not in settings_page

    cli_page = pages["reference/cli.md"]
    for command in app.registered_commands:
        assert f"## `energy-forecast {command.name}`" in cli_page
    for group in app.registered_groups:
        assert f"## `energy-forecast {group.name}`" in cli_page

    http_page = pages["reference/http-api.md"]
    schema = reference.openapi_schema()
    for path, operations in schema["paths"].items():
        for method in operations:
            assert f"### `{method.upper()} {path}`" in http_page


def test_the_contract_page_lists_states_errors_and_keys() -> None:
    from energy_forecast.domain.tasks import TaskState
    from energy_forecast.errors import ErrorType

    page = importlib.import_module("ref_contract").render()

    for state in TaskState:
        assert f"| `{state.value}` |" in page
    for kind in ErrorType:
        assert f"`{kind.value}`" in page
    for key in ("task_progress:{id}", "task_error:{id}", "dramatiq-result:{id}", "ef_scheduler:leader"):
        assert f"`{key}`" in page
    for measurement in ("electricity_consumption", "temperature_data", "meter_registry", "forecast"):
        assert measurement in page
