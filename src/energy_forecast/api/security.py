"""API-key authentication, scopes and per-client rate limits for every route of the app.

One ASGI middleware, applied at app level so routes added later are covered without opting in:

1. open paths (``/health/``, ``/health/live``, the docs, the schema and the dashboard's
   ``/static/`` assets, which hold no data) pass without a key; ``/health/`` is still charged to
   the caller's address bucket;
2. the key comes from ``X-API-Key`` or ``Authorization: Bearer``; a presented key must be valid;
3. the caller's token bucket (per key, or per client address when anonymous) is charged, so key
   guessing is rate limited too; an empty bucket answers 429 with ``Retry-After``;
4. when keys are enforced, no key answers 401 and a key without the scope answers 403. A browser
   cannot send a header when it follows a link, so a dashboard page (GET/HEAD of ``/`` or
   ``/dashboard/...``) asked for without a key answers 401 with the *locked page* instead of JSON:
   the page's shell and key form, rendered without touching any store. Its script then fetches the
   same URL again with the key, through this same check; no route handler runs without a key.

Keys are enforced when the service binds anything but loopback, when ``EF_AUTH_REQUIRED`` is set,
or as soon as the key file exists, revoked keys included (``keys_enforced``); a non-loopback bind
without an active key refuses to start. WebSocket connections are closed (no route takes one). The scope is
read for GET/HEAD/OPTIONS and write otherwise, except POSTs that only compute (``READ_ONLY_POSTS``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import structlog
from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from energy_forecast.api.errors import error_body
from energy_forecast.api.limits import BodySizeLimitMiddleware, RequestTimeoutMiddleware
from energy_forecast.api.ratelimit import MemoryTokenBucket, RateLimiter, RedisTokenBucket
from energy_forecast.api.redirects import RelativeRedirectMiddleware
from energy_forecast.errors import ConfigurationError, ErrorType
from energy_forecast.logging import get_logger
from energy_forecast.services.apikeys import ApiKey, ApiKeyStore
from energy_forecast.settings import Settings

log = get_logger(__name__)

OPEN_PATHS = frozenset(
    {"/health/", "/health", "/health/live", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
)
# Open, but charged to the caller's address like any anonymous request (a probe flood is limited).
RATE_LIMITED_OPEN_PATHS = frozenset({"/health/", "/health"})
# CSS, JavaScript and icons: the same for every caller, and a <link> or <script> sends no header.
OPEN_PREFIXES = ("/static/",)
# HTML pages a person opens by following a link; their data stays behind the key (see ``is_page``).
PAGE_PATHS = frozenset({"/"})
PAGE_PREFIXES = ("/dashboard/",)
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# POSTs that compute an answer from stored data and change nothing. Not /temperature/series/:
# it calls the weather providers (spending the quota) and stores what they return. Not
# /test_model/all_models/: it queues a task per meter of the fleet (work, so write scope).
READ_ONLY_POSTS = frozenset({"/forecast/", "/test_model/", "/backtest/", "/peaks/", "/cost/"})
HOW_TO_CREATE = (
    "create one with `energy-forecast apikey create --name NAME --scope read` "
    "(add --scope write to change data)"
)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def required_scope(method: str, path: str) -> str:
    if method.upper() in READ_METHODS or path in READ_ONLY_POSTS:
        return "read"
    return "write"


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def is_page(method: str, path: str) -> bool:
    """True for a browser navigation to a dashboard page, which gets the locked page without a key."""
    return method.upper() in {"GET", "HEAD"} and (path in PAGE_PATHS or path.startswith(PAGE_PREFIXES))


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; 0.0.0.0, :: and every other name are not."""
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def keys_enforced(settings: Settings, keys: ApiKeyStore) -> bool:
    """Off loopback, with ``EF_AUTH_REQUIRED``, or while the key file exists (even if every key in
    it is revoked: revoking the last key must lock the API, not open it). ``EF_AUTH_REQUIRED=false``
    only leaves the choice to the other two; deleting the key file is the one way back to
    anonymous loopback service."""
    return settings.auth_required or not is_loopback(settings.host) or keys.exists()


def check_bind_is_protected(settings: Settings, keys: ApiKeyStore) -> None:
    """Refuse to serve off loopback (or with ``EF_AUTH_REQUIRED``) while no key could ever match.

    Raises:
        ConfigurationError: says how to create a key.
    """
    if keys.has_active_keys():
        return
    if not is_loopback(settings.host):
        raise ConfigurationError(
            "EF_HOST",
            f"binding {settings.host} (not loopback) requires API keys and none exists; {HOW_TO_CREATE} "
            f"(keys live in {settings.api_keys_path}), or bind 127.0.0.1",
        )
    if settings.auth_required:
        raise ConfigurationError(
            "EF_AUTH_REQUIRED", f"API keys are required and none exists; {HOW_TO_CREATE}"
        )


def presented_key(scope: Scope) -> str | None:
    """The key from ``X-API-Key`` or ``Authorization: Bearer``; None when neither is sent."""
    for name, value in scope.get("headers", []):
        if name == b"x-api-key":
            return value.decode("latin-1").strip()
        if name == b"authorization":
            kind, _, credential = value.decode("latin-1").partition(" ")
            if kind.lower() == "bearer":
                return credential.strip()
    return None


class AccessMiddleware:
    """Authenticate, rate limit and authorise each HTTP request (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, *, settings: Settings, keys: ApiKeyStore, locked_page: ASGIApp | None = None
    ) -> None:
        self.app = app
        self.settings = settings
        self.keys = keys
        self.locked_page = locked_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # No route takes a WebSocket; refuse before any check could be skipped for one.
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_open(scope["path"]):
            if scope["path"] not in RATE_LIMITED_OPEN_PATHS or await self._admitted(
                _address_identity(scope), scope, receive, send
            ):
                await self.app(scope, receive, send)
            return
        try:
            enforced = keys_enforced(self.settings, self.keys)
            key_text = presented_key(scope)
            key = self.keys.verify(key_text) if key_text else None
        except ConfigurationError as exc:
            log.error("api_keys_unreadable", message=exc.message)
            await _deny(scope, receive, send, 500, "the API key file is unreadable; see the server log")
            return
        identity = f"key:{key.key_id}" if key else _address_identity(scope)
        if not await self._admitted(identity, scope, receive, send):
            return
        if key_text and key is None:
            await _unauthorised(scope, receive, send, f"invalid or revoked API key; {HOW_TO_CREATE}")
            return
        if key is None and enforced:
            if self.locked_page is not None and is_page(scope["method"], scope["path"]):
                log.info("page_locked", path=scope["path"])
                await self.locked_page(scope, receive, send)
                return
            await _unauthorised(
                scope,
                receive,
                send,
                "missing API key: send it in the X-API-Key header or as 'Authorization: Bearer <key>'; "
                + HOW_TO_CREATE,
            )
            return
        needed = required_scope(scope["method"], scope["path"])
        if key is not None and not key.allows(needed):
            await _deny(scope, receive, send, 403, _forbidden_message(key, needed, scope))
            return
        scope.setdefault("state", {})["api_key_id"] = key.key_id if key else None
        with structlog.contextvars.bound_contextvars(api_key_id=key.key_id if key else None):
            await self.app(scope, receive, send)

    async def _admitted(self, identity: str, scope: Scope, receive: Receive, send: Send) -> bool:
        """Take a token from ``identity``'s bucket; False once a 429 has been sent instead."""
        if self.settings.rate_limit_per_s <= 0:
            return True
        limiter: RateLimiter = scope["app"].state.rate_limiter
        decision = await limiter.acquire(identity)
        if decision.allowed:
            return True
        await _deny(
            scope,
            receive,
            send,
            429,
            f"rate limit of {self.settings.rate_limit_per_s:g} requests/s (burst "
            f"{self.settings.rate_limit_burst}) exceeded for this client; retry after "
            f"{decision.retry_after_header} s",
            {"Retry-After": decision.retry_after_header},
        )
        return False


def _address_identity(scope: Scope) -> str:
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


def _forbidden_message(key: ApiKey, needed: str, scope: Scope) -> str:
    return (
        f"API key {key.key_id} ({key.name}) has scope(s) {', '.join(key.scopes)} but "
        f"{scope['method']} {scope['path']} needs '{needed}'; use a key created with --scope {needed}"
    )


async def _unauthorised(scope: Scope, receive: Receive, send: Send, detail: str) -> None:
    await _deny(scope, receive, send, 401, detail, {"WWW-Authenticate": "Bearer"})


async def _deny(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
) -> None:
    log.info("request_denied", status=status, path=scope["path"], method=scope["method"])
    await JSONResponse(error_body(status, detail), status_code=status, headers=headers)(scope, receive, send)


def install_security(app: FastAPI, settings: Settings, *, locked_page: ASGIApp | None = None) -> None:
    """Add the access, body-size and timeout middleware and document their answers in OpenAPI.

    ``locked_page`` answers a dashboard page requested without a key while keys are enforced;
    without it such a request gets the JSON 401 like any other.

    Raises:
        ConfigurationError: a non-loopback bind (or ``EF_AUTH_REQUIRED``) with no key to check against.
    """
    keys = ApiKeyStore(settings.api_keys_path)
    check_bind_is_protected(settings, keys)
    if "auth_required" in settings.model_fields_set and not settings.auth_required and keys.exists():
        log.warning(
            "auth_required_false_ignored",
            note=f"keys stay required while {settings.api_keys_path.name} exists; "
            "delete it to serve anonymously on loopback",
        )
    app.state.api_keys = keys
    # In-process buckets until the lifespan connects Redis (``use_redis_rate_limiter``).
    app.state.rate_limiter = MemoryTokenBucket(settings.rate_limit_per_s, settings.rate_limit_burst)
    # Added innermost first: access control runs before any body byte is read or any work starts.
    app.add_middleware(RequestTimeoutMiddleware, timeout=settings.request_timeout)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessMiddleware, settings=settings, keys=keys, locked_page=locked_page)
    app.add_middleware(RelativeRedirectMiddleware)
    _document_errors(app)


def use_redis_rate_limiter(app: FastAPI, settings: Settings, redis_url: str | None) -> None:
    """Share the buckets through Redis, so the limit holds across API processes."""
    if redis_url and settings.rate_limit_per_s > 0:
        app.state.rate_limiter = RedisTokenBucket.from_url(
            redis_url, settings.rate_limit_per_s, settings.rate_limit_burst
        )


async def close_rate_limiter(app: FastAPI) -> None:
    limiter = getattr(app.state, "rate_limiter", None)
    if isinstance(limiter, RedisTokenBucket):
        await limiter.aclose()


ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorPublic",
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "the class of the problem, e.g. NotFound, InputDataError"},
        "detail": {"type": "string", "description": "what went wrong and what to change"},
        "error_type": {
            "type": "string",
            "enum": [e.value for e in ErrorType],
            "description": "the seed's task error class, only where it is true for the problem",
        },
    },
}
ERROR_STATUSES: dict[str, str] = {
    "400": "Malformed request (e.g. a Last-Event-ID past Redis's stream-id range)",
    "401": "Missing, invalid or revoked API key",
    "403": "The API key lacks the scope this operation needs",
    "404": "Unknown meter, model, task or version, or no readings to work from",
    "409": "The request contradicts stored state",
    "413": "Request body larger than EF_MAX_BODY_BYTES (64 KB for JSON requests such as /forecast/)",
    "422": "Invalid input; the message names the field or row",
    "429": "Rate limit, or a cap on streams, queued tasks or model fits, exceeded; see Retry-After",
    "503": "Storage or task queue unreachable",
    "504": "No response within EF_REQUEST_TIMEOUT",
}


# Operations that may call a weather provider, whose failure answers 502.
WEATHER_PATHS = ("/temperature/", "/forecast/")


def _document_errors(app: FastAPI) -> None:
    """Declare the error answers (and the key schemes) on every operation, including later routes."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["ErrorPublic"] = ERROR_SCHEMA
        components["securitySchemes"] = {
            "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "BearerKey": {"type": "http", "scheme": "bearer"},
        }
        error_ref = {"$ref": "#/components/schemas/ErrorPublic"}
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                for status, description in ERROR_STATUSES.items():
                    limited = status == "429" and path in RATE_LIMITED_OPEN_PATHS
                    if path in OPEN_PATHS and status in {"401", "403", "429"} and not limited:
                        continue
                    content = {"application/json": {"schema": error_ref}}
                    if status == "422" and "422" in responses:
                        # FastAPI's validation list, or our domain errors' single message.
                        existing = responses["422"]["content"]["application/json"]["schema"]
                        content = {"application/json": {"schema": {"anyOf": [existing, error_ref]}}}
                    responses[status] = {"description": description, "content": content}
                if path.startswith(WEATHER_PATHS):
                    responses["502"] = {
                        "description": "The weather provider refused or failed; the message names it",
                        "content": {"application/json": {"schema": error_ref}},
                    }
                if path not in OPEN_PATHS:
                    operation["security"] = [{"APIKeyHeader": []}, {"BearerKey": []}, {}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
