"""Request size and duration limits, as plain ASGI middleware so every route gets them.

Bodies are counted while they stream in: a ``Content-Length`` over the limit is refused before a
byte is read, and a chunked upload is cut off as soon as it passes the limit, so a huge upload is
never buffered whole. The timeout answers 504 when no response has started in time; work already
running in a worker thread cannot be interrupted in Python, so it finishes in the background and
its result is discarded. Streams (Server-Sent Events) are bounded only until their first byte.
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


class BodyTooLargeError(HTTPException):
    """Raised from ``receive`` when a body passes the limit; an HTTPException so FastAPI answers 413.

    FastAPI turns other exceptions raised while it reads a body into a 400 "error parsing the body".
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(status_code=413, detail=too_large_message(max_bytes))


def too_large_message(max_bytes: int) -> str:
    return (
        f"request body exceeds {max_bytes} bytes (EF_MAX_BODY_BYTES); split the upload into smaller "
        "requests, e.g. one year of readings per request"
    )


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == -1:
            await _json(scope, receive, send, 400, "Content-Length header is not a non-negative integer")
            return
        if declared is not None and declared > self.max_bytes:
            await _json(scope, receive, send, 413, too_large_message(self.max_bytes))
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

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
