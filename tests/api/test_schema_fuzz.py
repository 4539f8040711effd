"""Property-based run of schemathesis against our own OpenAPI schema, in process, with every check.

Two of the phases of ``schemathesis run --checks all``, with every check:

- per operation: generated requests (valid and deliberately invalid), with a fixed seed, through the
  whole middleware stack with a write key;
- stateful: sequences that feed one answer's ids into the next request (``POST /trainmodel/`` ->
  ``GET /trainmodel/status/{task_id}``, ``POST /location/`` -> ...), from links schemathesis
  infers from the schema.

Every check schemathesis has runs (``CHECKS.get_all()``): no 5xx; status, content type, headers and
body as declared; invalid input refused; valid input accepted; auth not ignored; a missing required
header refused; unsupported methods answered 405 with ``Allow``; resources available after creation.
What it still reports is listed in ``INTENDED`` with the reason each is intended (the security-model
page); anything else fails the test. The app runs with its embedded Redis (no workers), so the task
routes answer instead of 503, and streams end after a second.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.python.asgi import shutdown_lifespans

from energy_forecast.api.app import create_app
from energy_forecast.services.apikeys import ApiKeyStore
from energy_forecast.settings import load_settings

pytestmark = pytest.mark.slow

# Built at collection, because schemathesis parametrizes from the loaded schema. A short home: the
# embedded Redis socket path must stay under the unix-socket limit.
HOME = Path(tempfile.mkdtemp(prefix="ef-fz-"))
# No weather provider: tests never reach the internet (climatology and the store answer).
# No scheduler either (built before the autouse fixtures run): it would enqueue work on its own.
CONFIG = load_settings(
    home=HOME,
    rate_limit_per_s=0,
    weather={"providers": []},
    stream_max_duration="PT1S",
    schedule={"enabled": False},
)
_, WRITE_KEY = ApiKeyStore(CONFIG.api_keys_path).create("fuzz", ["write"])
APP = create_app(CONFIG, run_workers=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# The coverage phase (every enum value and boundary, deterministically) tripled the run to ~3 min on
# two cores; the examples, fuzzing and stateful phases run.
schema.config.phases.coverage.enabled = False
# Fixed, so every run sends the same requests (schemathesis draws a new seed per run otherwise).
schema.config.seed = 20261201
load_all_checks()
ALL_CHECKS = list(CHECKS.get_all())
FUZZ = settings(
    max_examples=30, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

# What the checks still report, each a schema-valid request answered 422 for a reason JSON Schema
# cannot state: the key names the 422's error class and a part of its message.
INTENDED: dict[tuple[str, str], str] = {
    ("RequestValidationError", "end_date must be after start_date"): "a relation between two fields",
    ("InputDataError", "is before start_date"): "a relation between two fields",
    ("InputDataError", "days is too long"): "a window's length is a difference of two fields",
    ("InputDataError", "records per backtest"): "days x horizon_hours is a product of two fields",
    ("InputDataError", "after the last reading"): "the horizon counts from the stored last reading",
    ("InputDataError", "sites are registered"): "without site_id the answer depends on the stored sites",
    ("InputDataError", "city has no letters or digits"): "without site_id, an id is derived from the city",
    ("InputDataError", "exceed the limit of"): "EF_MAX_IMPORT_ROWS counts rows, not bytes",
    ("InsufficientDataError", ""): "the stored readings cannot support a model (a data state)",
    ("FlatlineError", ""): "the stored readings are stuck (a data state)",
    ("DataQualityError", ""): "the stored readings cannot support a model (a data state)",
    ("InputDataError", "no meter has a trained model"): "a fleet test or publication needs trained models",
    ("InputDataError", "must be after start"): "a relation between two fields",
    (
        "InputDataError",
        "tariff: ",
    ): "a tariff's rules are checked together (every hour priced, blocks rising)",
    ("InputDataError", "has no tariff attached"): "which tariff a meter or group has is stored state",
    (
        "InputDataError",
        "no readings this month or last",
    ): "the default threshold is read from stored readings",
    ("InputDataError", "is already a meter's id"): "whether an id is taken by a meter is stored state",
    ("InputDataError", "is not registered; import it"): "which meters exist is stored state",
    ("InputDataError", "does not exist; define it first"): "which groups exist is stored state",
    ("InputDataError", "a group holds"): "a member's type is stored state",
    ("InputDataError", "cannot contain itself"): "a cycle runs through stored groups or the path's own id",
    ("InputDataError", "no CSV file in the upload"): "which files a bulk import holds is not in its schema",
    (
        "InputDataError",
        "no known files in the upload",
    ): "which files a bulk import holds is not in its schema",
}


def is_intended(failure: Failure, response: Any) -> bool:
    """A rejected-valid-data report whose 422 names one of the ``INTENDED`` reasons."""
    if type(failure).__name__ != "RejectedPositiveData" or response.status_code != 422:
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    if body.get("error") == "InputDataError" and body.get("source"):
        # An upload's content (CSV columns and quoting, encoding, whole UTC hours, which depend on
        # each stamp's offset) is checked after parsing; the 422 names its source.
        return True
    detail = body.get("detail")
    text = json.dumps(detail) if not isinstance(detail, str) else detail
    return any(body.get("error") == error and part in text for error, part in INTENDED)


def validate(case: Any, response: Any, **kwargs: Any) -> None:
    """Every check; re-raise what is not intended."""
    try:
        case.validate_response(response, checks=ALL_CHECKS, **kwargs)
    except (FailureGroup, Failure) as exc:
        failures = list(exc.exceptions) if isinstance(exc, FailureGroup) else [exc]
        unexpected = [f for f in failures if not is_intended(f, response)]
        if unexpected:
            answer = f"answered {response.status_code}: {response.content[:400]!r}"
            raise FailureGroup(unexpected, f"{len(unexpected)} unexpected report(s); {answer}") from None


@pytest.fixture(scope="module", autouse=True)
def running_app() -> Iterator[None]:
    """Schemathesis starts the app's lifespan (store, models, task queue) at its first call and keeps
    it open for every case; it is stopped here, before the home goes. A lifespan of our own beside
    it would be a second embedded Redis on the same home, which the home's lock refuses."""
    try:
        yield
    finally:
        shutdown_lifespans()
        shutil.rmtree(HOME, ignore_errors=True)


@schema.parametrize()
@FUZZ
def test_no_operation_errors_or_breaks_its_schema(case: Any) -> None:
    headers = {"X-API-Key": WRITE_KEY}
    validate(case, case.call(headers=headers), headers=headers, transport_kwargs={"headers": headers})


class Sequences(schema.as_state_machine()):  # type: ignore[misc]
    """Stateful phase: the same checks over sequences linked by the ids the answers carry."""

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"headers": {"X-API-Key": WRITE_KEY}}

    def validate_response(
        self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        headers = kwargs.get("headers")
        validate(case, response, headers=headers, transport_kwargs=kwargs or None, recorder=self.recorder)


def test_sequences_of_linked_operations_keep_every_check() -> None:
    Sequences.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )


HOSTILE_JSON = {
    "1000-deep": b"[" * 1000 + b"]" * 1000,
    "100000-digits": b"9" * 100_000,
    "deep-field": b'{"meter_id": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    "huge-string": b'"' + b"A" * 60_000 + b'"',
    "truncated": b'{"meter_id": "m1", ',
}
JSON_OPERATIONS = sorted(
    (path.replace("{meter_type}", "electricity").replace("{meter_id}", "m1"), method)
    for path, operations in APP.openapi()["paths"].items()
    for method, operation in operations.items()
    if "application/json" in operation.get("requestBody", {}).get("content", {})
)


def test_malformed_json_of_any_shape_answers_4xx_on_every_json_operation() -> None:
    """Beside the generated cases: shapes schemathesis does not generate, sent to every JSON body.

    Through the lifespan schemathesis keeps open (one call starts it when this test runs alone): a
    lifespan of its own would be a second embedded Redis on the same home.
    """
    assert JSON_OPERATIONS
    schema["/health/live"]["GET"].Case().call()
    headers = {"X-API-Key": WRITE_KEY, "content-type": "application/json"}
    client = TestClient(APP)
    for shape, body in HOSTILE_JSON.items():
        for path, method in JSON_OPERATIONS:
            response = client.request(method.upper(), path, content=body, headers=headers)
            assert 400 <= response.status_code < 500, (shape, method, path, response.text[:300])
            assert response.json()["detail"], (shape, method, path)
