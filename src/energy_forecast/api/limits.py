"""Request size and duration limits, as plain ASGI middleware so every route gets them.

Bodies are counted while they stream in: a ``Content-Length`` over the limit is refused before a
byte is read, and a chunked upload is cut off as soon as it passes the limit, so a huge upload is
never buffered whole. Routes whose JSON body is a small request rather than data
(``SMALL_BODY_LIMITS``) get a limit of their own far below ``EF_MAX_BODY_BYTES``, so parsing and
validating what they accept stays a matter of microseconds on the event loop. The timeout answers
504 when no response has started in time; work already running in a worker thread cannot be
interrupted in Python, so it finishes in the background and its result is discarded. Streams
(Server-Sent Events) are bounded only until their first byte.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from energy_forecast.api.errors import error_body
from energy_forecast.logging import get_logger

log = get_logger(__name__)


SMALL_BODY_BYTES = 64 * 1024
# Exact paths whose body is a JSON request: a window, a meter, a location. A batch names up to
# 10,000 meter ids of up to 64 characters (~700 KB), so it gets 1 MB.
SMALL_BODY_LIMITS: dict[str, int] = {
    "/forecast/": SMALL_BODY_BYTES,
    "/test_model/": SMALL_BODY_BYTES,
    "/test_model/all_models/": SMALL_BODY_BYTES,
    "/backtest/": SMALL_BODY_BYTES,
    "/trainmodel/": SMALL_BODY_BYTES,
    "/trainmodel/v2/": SMALL_BODY_BYTES,
    "/trainmodel/batch/": 1024 * 1024,
    "/location/": SMALL_BODY_BYTES,
    "/temperature/series/": SMALL_BODY_BYTES,
}


# Paths whose body is a whole data set: the bulk import takes many files (or a zip) in one request,
# streamed to disk as it arrives, so it gets a larger limit of its own (never below EF_MAX_BODY_BYTES).
LARGE_BODY_BYTES = 512 * 1024 * 1024
LARGE_BODY_LIMITS: dict[str, int] = {"/import/": LARGE_BODY_BYTES}


class BodyTooLargeError(HTTPException):
    """Raised from ``receive`` when a body passes the limit; an HTTPException so FastAPI answers 413.

    FastAPI turns other exceptions raised while it reads a body into a 400 "error parsing the body".
    """

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=413, detail=detail)


def too_large_message(max_bytes: int, path: str | None = None) -> str:
    if path in SMALL_BODY_LIMITS:
        return (
            f"request body exceeds {max_bytes} bytes, the limit of {path} (its body is a JSON request, "
            "not data); send only the fields the operation takes"
        )
    if path in LARGE_BODY_LIMITS:
        return (
            f"request body exceeds {max_bytes} bytes, the limit of {path}; send the files in several "
            "imports (each is all or nothing, and importing again is harmless)"
        )
    return (
        f"request body exceeds {max_bytes} bytes (EF_MAX_BODY_BYTES); split the upload into smaller "
        "requests, e.g. one year of readings per request"
    )


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def limit_for(self, path: str) -> int:
        if path in LARGE_BODY_LIMITS:
            return max(self.max_bytes, LARGE_BODY_LIMITS[path])
        return min(self.max_bytes, SMALL_BODY_LIMITS.get(path, self.max_bytes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await _json(scope, receive, send, 400, "Content-Length header is not a non-negative integer")
            return
        limit = self.limit_for(scope["path"])
        message = too_large_message(limit, scope["path"])
        if declared is not None and declared > limit:
            await _json(scope, receive, send, 413, message)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            event = await receive()
            if event["type"] == "http.request":
                received += len(event.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(message)
            return event

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLargeError as exc:
            # Reached here only when a handler read the body outside FastAPI's own error handling.
            if started:
                raise
            await _json(scope, receive, send, 413, str(exc.detail))


class RequestTimeoutMiddleware:
    def __init__(self, app: ASGIApp, *, timeout: timedelta) -> None:
        self.app = app
        self.timeout_s = timeout.total_seconds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        abandoned = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if abandoned:
                return  # the client already has its 504
            started = started or message["type"] == "http.response.start"
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=self.timeout_s)
        if task in done or started:
            await task
            return
        abandoned = True
        task.cancel()
        log.warning("request_timeout", path=scope.get("path"), timeout_s=self.timeout_s)
        await _json(
            scope,
            receive,
            send,
            504,
            f"the request took longer than {self.timeout_s:g} s (EF_REQUEST_TIMEOUT) and was abandoned; "
            "ask for a shorter window or fewer meters, or queue the work as a training task",
        )
        # Wait for the handler to end (a thread finishes its work) so nothing outlives the request.
        await asyncio.gather(task, return_exceptions=True)


def _content_length(scope: Scope) -> int | None:
    """The declared length, None when absent, -1 when malformed."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return -1
            return length if length >= 0 else -1
    return None


async def _json(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    await JSONResponse(error_body(status, detail), status_code=status)(scope, receive, send)
