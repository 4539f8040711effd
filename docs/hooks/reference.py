"""MkDocs hook: the reference pages are generated from the code at every build.

A hook and not the mkdocs-gen-files plugin: generation needs nothing but MkDocs's own
``File.generated`` (1.6), so the site has one dependency fewer, and the generators are plain
modules next to this one that tests import and call directly. Pages generated here:

- ``reference/settings.md`` from ``energy_forecast.settings.Settings``;
- ``reference/cli.md`` from the Typer app;
- ``reference/http-api.md`` and ``reference/openapi.json`` from the app's OpenAPI schema;
- ``reference/tasks-and-errors.md`` from the task states, the exception tree and the modules
  that own the Redis keys and the InfluxDB layout.

A setting without a meaning is logged as a warning, so ``mkdocs build --strict`` fails on it.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import ref_cli
import ref_contract
import ref_http
import ref_settings
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.reference")


def openapi_schema() -> dict[str, Any]:
    from energy_forecast import settings as settings_module
    from energy_forecast.api.app import create_app

    with tempfile.TemporaryDirectory(prefix="ef-docs-") as home:
        app = create_app(settings_module.Settings(home=Path(home)), start_tasks=False)
        return app.openapi()


def generated_pages() -> dict[str, str]:
    """Every generated file by its path under docs/, read from the code as it is now."""
    from energy_forecast import settings as settings_module
    from energy_forecast.cli.app import app

    settings_page, missing = ref_settings.render(
        settings_module.Settings, settings_module.SEED_ENV, settings_module.SEED_FILES
    )
    for dotted in missing:
        log.warning(
            "setting %s has no meaning: give it a description or a comment line above it "
            "in energy_forecast/settings.py", dotted
        )
    schema = openapi_schema()
    return {
        "reference/settings.md": settings_page,
        "reference/cli.md": ref_cli.render(app),
        "reference/http-api.md": ref_http.render(schema),
        "reference/openapi.json": json.dumps(schema, indent=2),
        "reference/tasks-and-errors.md": ref_contract.render(),
    }


def on_files(files: Files, config: Any) -> Files:
    for src_uri, content in generated_pages().items():
        existing = files.get_file_from_path(src_uri)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, src_uri, content=content))
    return files
