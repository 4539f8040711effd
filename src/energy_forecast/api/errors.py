"""HTTP error bodies: every error answer is ``{"error": <class>, "detail": <what to fix>}``.

``error`` names the class of the problem: the domain exception's class name, FastAPI's
``RequestValidationError`` for a body or parameter that fails its schema, and the HTTP reason
in CamelCase (``NotFound``, ``Unauthorized``, ``TooManyRequests`` ...) for errors raised by the
framework and the middleware. ``error_type`` appears only where the seed's task classification is
true for the problem (``NO_DATA_FOUND`` for a meter without readings, ``CONNECTION_ERROR`` for an
unreachable store); an unknown task id or a bad window carries none.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import redis
from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from energy_forecast.api.validation import short_errors
from energy_forecast.errors import (
    ConfigurationError,
    ConflictError,
    DataQualityError,
    EnergyForecastError,
    InputDataError,
    InvalidIdentifierError,
    NoDataFoundError,
    NotFoundError,
    QueueUnavailableError,
    StorageError,
    WeatherProviderError,
)
from energy_forecast.logging import get_logger, redact_text

log = get_logger(__name__)

# Most specific first: the first matching class decides the status. NoDataFoundError stays a
# DataQualityError (a task files it as NO_DATA_FOUND) but answers 404: the meter or its readings
# are not there, which is not something the request body can fix.
ERROR_STATUS: list[tuple[type[EnergyForecastError], int]] = [
    (InvalidIdentifierError, 422),
    (NoDataFoundError, 404),
    (InputDataError, 422),
    (DataQualityError, 422),
    (NotFoundError, 404),
    (ConflictError, 409),
    (QueueUnavailableError, 503),
    (StorageError, 503),
    (WeatherProviderError, 502),
    (ConfigurationError, 500),
]


def status_for(exc: EnergyForecastError) -> int:
    for cls, status in ERROR_STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def error_name(status: int) -> str:
    """``NotFound`` for 404, ``TooManyRequests`` for 429: the reason phrase as a class name."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "HTTPError"
    return "".join(word.capitalize() for word in re.split(r"[^A-Za-z]+", phrase) if word)


def error_body(status: int, detail: Any, error: str | None = None) -> dict[str, Any]:
    return {"error": error or error_name(status), "detail": detail}


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EnergyForecastError)
    status = status_for(exc)
    log.warning("request_failed", error=type(exc).__name__, status=status, message=exc.message)
    body = error_body(status, redact_text(exc.message), type(exc).__name__)
    if exc.error_type is not None:
        body["error_type"] = exc.error_type.value
    for attr in ("source", "row", "meter_id", "provider"):
        value = getattr(exc, attr, None)
        if value is not None:
            body[attr] = value
    return JSONResponse(status_code=status, content=body)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 list of problems, named like every other error, each quoting a short excerpt only."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        status_code=422,
        content=error_body(422, jsonable_encoder(short_errors(exc.errors())), "RequestValidationError"),
    )


# The keys of an OpenAPI path item that are operations (others: summary, parameters, servers).
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def allowed_methods(app: FastAPI, path: str) -> set[str]:
    """The methods the OpenAPI schema declares for every path template that matches ``path``.

    Starlette's 405 names only the first matching route's methods, and FastAPI's included routers
    keep their routes out of ``app.router.routes``; the schema is the one public list of them all.
    """
    patterns: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "allow_patterns", None)
    if patterns is None:
        patterns = [
            (compile_path(template)[0], {key.upper() for key in operations if key in HTTP_METHODS})
            for template, operations in app.openapi().get("paths", {}).items()
        ]
        app.state.allow_patterns = patterns
    allowed: set[str] = set()
    for pattern, methods in patterns:
        if pattern.match(path):
            allowed |= methods
    return allowed


async def http_error(request: Request, exc: Exception) -> Response:
    """The framework's errors as ``{error, detail}``; a 405's ``Allow`` names every method of the path."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        root = request.scope.get("root_path", "")
        path = request.scope["path"]
        allowed = allowed_methods(request.app, path[len(root) :] if root and path.startswith(root) else path)
        if allowed:
            headers["Allow"] = ", ".join(sorted(allowed))
    if exc.status_code in {204, 304}:
        return Response(status_code=exc.status_code, headers=headers)
    return JSONResponse(error_body(exc.status_code, exc.detail), status_code=exc.status_code, headers=headers)


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """An unexpected exception as the same ``{error, detail}`` shape; the traceback goes to the log only."""
    # The server re-raises it after this answer, and uvicorn logs the traceback.
    log.error("request_crashed", error=type(exc).__name__)
    detail = "unexpected server error; the server log has the details (look up this response's X-Request-ID)"
    return JSONResponse(error_body(500, detail), status_code=500)


async def redis_unreachable(request: Request, exc: Exception) -> JSONResponse:
    """A Redis read outside the task queue's own error handling (publication index, schedule): 503."""
    detail = (
        f"the task queue (Redis) is unreachable ({redact_text(str(exc)) or type(exc).__name__}); "
        "check REDIS_URL or start Redis, or unset REDIS_URL to use the embedded one"
    )
    log.warning("request_failed", error=type(exc).__name__, status=503, message=detail)
    return JSONResponse(error_body(503, detail, QueueUnavailableError.__name__), status_code=503)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Exception, internal_error)
    app.add_exception_handler(redis.ConnectionError, redis_unreachable)
    app.add_exception_handler(redis.TimeoutError, redis_unreachable)
    app.add_exception_handler(EnergyForecastError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
