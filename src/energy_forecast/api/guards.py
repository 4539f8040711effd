"""Two answers every route gets: ``nosniff`` on every response, and a cap on concurrent model fits.

``/test_model/`` and ``/backtest/`` fit models on the request's own thread (seconds each, hundreds
of MB for a long backtest). Eight at once took 100 s and grew the server by 600 MB, so at most
``EF_LIMITS__COMPUTE_CONCURRENCY`` run at once per process; a request beyond that is answered 429
with ``Retry-After`` at once, before its body is read, instead of queueing behind them.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from energy_forecast.api.errors import error_body

COMPUTE_PATHS = frozenset({"/test_model/", "/backtest/"})
COMPUTE_RETRY_AFTER_S = 5


def caller_identity(request: Request) -> str:
    """Whose share a request spends: the API key the access middleware admitted, else the address."""
    key_id = getattr(request.state, "api_key_id", None)
    if key_id:
        return f"key:{key_id}"
    client = request.client
    return f"ip:{client.host if client else 'unknown'}"


class NoSniffMiddleware:
    """``X-Content-Type-Options: nosniff``: a browser never reads a JSON answer as HTML or script."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_nosniff)


class ComputeGateMiddleware:
    """At most ``limit`` requests to ``COMPUTE_PATHS`` at once in this process (one event loop)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.running = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in COMPUTE_PATHS:
            await self.app(scope, receive, send)
            return
        if self.running >= self.limit:
            detail = (
                f"{self.limit} model tests or backtests are already running on this server "
                f"(EF_LIMITS__COMPUTE_CONCURRENCY); retry after {COMPUTE_RETRY_AFTER_S} s"
            )
            headers = {"Retry-After": str(COMPUTE_RETRY_AFTER_S)}
            await JSONResponse(error_body(429, detail), status_code=429, headers=headers)(
                scope, receive, send
            )
            return
        self.running += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.running -= 1
