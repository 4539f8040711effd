"""Task states, error classes, Redis keys and the InfluxDB layout, rendered from the code.

States and progress come from ``TaskState``; error classes from the exception tree and the HTTP
layer's status table; Redis keys and the InfluxDB layout from the docstrings and constants of the
modules that own them, which are the code's own statement of the contract independent clients use.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

KEY_MODULES = [
    "energy_forecast.tasks.progress",
    "energy_forecast.tasks.telemetry",
    "energy_forecast.tasks.publications",
]
BULLET = re.compile(r"^- ``(?P<key>[^`]+)``\s+(?P<text>.+)$")


def rst_to_md(text: str) -> str:
    """Docstrings use reST literals (double backticks); Markdown wants single ones."""
    return text.replace("``", "`")


def docstring_keys(module_name: str) -> list[tuple[str, str]]:
    """``- ``key``  meaning`` bullets of a module docstring, continuation lines joined."""
    doc = inspect.getdoc(importlib.import_module(module_name)) or ""
    found: list[tuple[str, str]] = []
    for line in doc.splitlines():
        match = BULLET.match(line.strip())
        if match:
            found.append((match["key"], match["text"]))
        elif found and line.startswith("  ") and line.strip():
            key, text = found[-1]
            found[-1] = (key, f"{text} {line.strip()}")
    return found


def _first_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return rst_to_md(doc.split("\n\n")[0].replace("\n", " "))


def states_section() -> list[str]:
    from energy_forecast.domain.tasks import TaskState

    lines = [
        "## Task states",
        "",
        "A task's `status` moves through these states; `progress` is the percentage reported with",
        "each (failure and cancellation keep the percentage reached). Terminal states never change.",
        "",
        "| state | progress | terminal |",
        "|---|---|---|",
    ]
    for state in TaskState:
        progress = str(state.progress) if state.value not in {"FAILURE", "CANCELLED"} else "(kept)"
        lines.append(f"| `{state.value}` | {progress} | {'yes' if state.terminal else ''} |")
    return [*lines, ""]


def errors_section() -> list[str]:
    from energy_forecast import errors
    from energy_forecast.api.errors import ERROR_STATUS

    lines = [
        "## Error classes",
        "",
        "A failed task's `error.error_type` is one of the seed's classes:",
        "",
        "| `error_type` |",
        "|---|",
    ]
    lines += [f"| `{kind.value}` |" for kind in errors.ErrorType]
    lines += [
        "",
        "An unclassified failure of a task is filed as `TRAINING_ERROR`. HTTP errors answer",
        "`{\"error\": <class>, \"detail\": <what to fix>}`, with `error_type` only where one of the",
        "classes above is true for the problem. `error` is one of the exception classes below,",
        "`RequestValidationError` (with the list of problems as `detail`), or the HTTP reason",
        "(`NotFound`, `Unauthorized`, `TooManyRequests`, …) for errors raised by the framework.",
        "",
        "| `error` | HTTP status | `error_type` | meaning |",
        "|---|---|---|---|",
    ]

    def status(cls: type) -> str:
        for known, code in ERROR_STATUS:
            if issubclass(cls, known):
                return str(code)
        return "500"

    def walk(cls: type, depth: int) -> None:
        kind = cls.error_type.value if getattr(cls, "error_type", None) else ""
        name = ("&nbsp;&nbsp;" * depth) + f"`{cls.__name__}`"
        lines.append(f"| {name} | {status(cls)} | {kind} | {_first_line(cls)} |")
        for sub in sorted(cls.__subclasses__(), key=lambda c: c.__name__):
            if sub.__module__.startswith("energy_forecast"):
                walk(sub, depth + 1)

    walk(errors.EnergyForecastError, 0)
    return [*lines, ""]


def redis_section() -> list[str]:
    from energy_forecast.tasks import lease, schedule_jobs, scheduler
    from energy_forecast.tasks.results import RESULT_NAMESPACE

    lines = [
        "## Redis keys",
        "",
        "`{id}` is a task id (the Dramatiq message id); `{m}` is `{meter_type}:{meter_id}`. Task",
        "records expire after `EF_TASK_RETENTION`.",
        "",
        "| key | what it holds | owner |",
        "|---|---|---|",
    ]
    for module in KEY_MODULES:
        for key, text in docstring_keys(module):
            lines.append(f"| `{key}` | {rst_to_md(text)} | `{module.removeprefix('energy_forecast.')}` |")
    extra = [
        (f"{RESULT_NAMESPACE}:{{id}}", "a finished task's result (Dramatiq's Redis result backend)",
         "tasks.results"),
        ("train_guard:{type}:{meter_id}", "the task id (and enqueue time) of the meter's unfinished "
         "training: one training per meter at a time", "tasks.enqueue"),
        (lease.LEASE_KEY, "the scheduler leader's identity; expires one tick after its last renewal",
         "tasks.lease"),
        (scheduler.JOBS_KEY, "each scheduler job's last and next run and outcome", "tasks.scheduler"),
        (schedule_jobs.ATTEMPTS_KEY, "per-meter failed scheduled trainings, for their back-off",
         "tasks.schedule_jobs"),
        (schedule_jobs.FLEET_KEY, "the fleet counts of the last *train* run", "tasks.schedule_jobs"),
        (schedule_jobs.HISTORY_KEY, "fleet median live and hold-out CV(RMSE) per publication run",
         "tasks.schedule_jobs"),
        ("dramatiq:default", "the task queue (Dramatiq); `.DQ` delayed retries, `.XQ` dead letters",
         "Dramatiq"),
        ("dramatiq:__heartbeats__", "each worker broker's last heartbeat", "Dramatiq"),
    ]
    lines += [f"| `{key}` | {text} | `{owner}` |" for key, text, owner in extra]
    return [*lines, "", *record_shapes()]


def record_shapes() -> list[str]:
    """The JSON fields of the progress and error records, from their dataclasses."""
    from dataclasses import fields

    from energy_forecast.domain.tasks import TaskError, TaskProgress

    lines = ["### Record shapes", ""]
    for key, cls in (("task_progress:{id}", TaskProgress), ("task_error:{id}", TaskError)):
        names = ", ".join(f"`{f.name}`" for f in fields(cls))
        lines.append(f"- `{key}`: a JSON object with {names}. {_first_line(cls)}")
    return [*lines, ""]


def influx_section() -> list[str]:
    from energy_forecast.storage import forecast_layout, influx_store

    doc = rst_to_md(inspect.getdoc(influx_store) or "")
    layout = doc.split("Layout (the seed's):", 1)[-1].split("\n\nA point", 1)[0].strip()
    notes = [part for part in doc.split("\n\n") if part.startswith("- deletes")]
    return [
        "## InfluxDB layout",
        "",
        "The service speaks InfluxDB's v1 HTTP API (line protocol `/write`, InfluxQL `/query`) in",
        "the database named by `INFLUX_BUCKET`. Timestamps are UTC and label the start of the hour.",
        "",
        layout,
        "",
        "### Published forecasts",
        "",
        rst_to_md(inspect.getdoc(forecast_layout) or "").split("\n\n", 1)[-1],
        "",
        *(["### Server versions", "", *notes, ""] if notes else []),
    ]


def render() -> str:
    return "\n".join(
        [
            "# Task states, errors and storage contract",
            "",
            "<!-- Generated at build time from the code (domain.tasks, errors, tasks.*, storage.*). -->",
            "",
            "These are the seed design's names; independent clients rely on them, and the contract",
            "tests replay the seed's examples against them.",
            "",
            *states_section(),
            *errors_section(),
            *redis_section(),
            *influx_section(),
        ]
    )
