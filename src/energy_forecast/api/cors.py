"""Opt-in CORS for pages served from other origins (an operator's portal), with Starlette's middleware.

Installed last, so it is the outermost middleware: it answers preflights (``OPTIONS`` with
``Origin`` and ``Access-Control-Request-Method``) itself, which carry no key by the Fetch standard,
and passes every other request through the access middleware, so the API key still guards each
one. Its headers land on every answer to an allowed origin: data, errors (401, 404, 422 ...) and
the event stream alike. Without ``EF_CORS_ORIGINS`` nothing is installed and no answer carries a
CORS header.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from energy_forecast.settings import Settings

ALLOWED_HEADERS = ["Content-Type", "X-API-Key", "Authorization", "Last-Event-ID", "X-Request-ID"]
EXPOSED_HEADERS = ["X-Request-ID", "Retry-After", "Allow"]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def install_cors(app: FastAPI, settings: Settings) -> None:
    """Add CORS for ``settings.cors_origins``; call after every other ``add_middleware``."""
    if not settings.cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=settings.cors_allow_credentials,
        max_age=600,
    )
