"""``/docs`` (Swagger UI) and ``/redoc`` with every asset served by the app: usable without internet.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (a blank page on a machine without
internet, common for utility systems) and start Swagger UI with an inline script. These pages
load the assets that the ``fastapi-offline`` package ships, from ``/static/docs-assets/``, and
start Swagger UI from ``static/docs/swagger-init.js``, under a Content-Security-Policy that allows
this origin only. ReDoc's styled components insert ``<style>`` elements, hence ``'unsafe-inline'``
for styles (scripts stay ``'self'``), and its search runs in a worker made from a ``blob:``.
ReDoc's bundle always renders a footer logo from its vendor's CDN: the CSP refuses it before any
request leaves, and ReDoc drops the image (its text link stays).
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)
ASSETS = "/static/docs-assets"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "connect-src 'self'; worker-src 'self' blob:; font-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def install_docs(app: FastAPI) -> None:
    """Add the pages and mount the assets; call before the ``/static`` mount, which would shadow them."""
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")
    app.include_router(router)


def _page(request: Request, title: str, head: str, body: str) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(request.app.title)} - {title}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<link rel="icon" href="{_root(request)}/static/favicon.svg">\n{head}'
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )
    return HTMLResponse(html, headers=HEADERS)


def _root(request: Request) -> str:
    return escape(str(request.scope.get("root_path", "")))


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    return _page(
        request,
        "Swagger UI",
        f'<link rel="stylesheet" href="{root}{ASSETS}/swagger-ui.css">\n',
        f'<div id="swagger-ui" data-openapi-url="{root}{escape(request.app.openapi_url or "")}"></div>\n'
        f'<script src="{root}{ASSETS}/swagger-ui-bundle.js"></script>\n'
        f'<script src="{root}/static/docs/swagger-init.js"></script>\n',
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    return _page(
        request,
        "ReDoc",
        "",
        f'<redoc spec-url="{root}{escape(request.app.openapi_url or "")}"></redoc>\n'
        f'<script src="{root}{ASSETS}/redoc.standalone.js"></script>\n',
    )
