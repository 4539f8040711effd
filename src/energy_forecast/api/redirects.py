"""Redirects that stay on the server that was asked: ``Location`` as a path, never a host.

Starlette answers ``GET /health`` with a redirect to ``/health/`` built from the request's
``Host`` header, so ``Host: evil.example`` sent the caller to ``http://evil.example/health/``
(an open redirect, and a poisoned cache entry behind a shared proxy). A relative ``Location`` is
valid HTTP (RFC 9110, 10.2.2) and resolves against whatever address the client used.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REDIRECTS = frozenset({301, 302, 303, 307, 308})


class RelativeRedirectMiddleware:
    """Rewrite an absolute ``Location`` of a redirect to its path and query."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def relative_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in REDIRECTS:
                headers = MutableHeaders(scope=message)
                location = headers.get("location")
                if location:
                    parts = urlsplit(location)
                    if parts.scheme or parts.netloc:
                        path = parts.path or "/"
                        headers["location"] = path + (f"?{parts.query}" if parts.query else "")
            await send(message)

        await self.app(scope, receive, relative_send)
