"""The current location: the site the last ``POST /location/`` set, the default of temperature calls.

The seed's API has one location at a time: a client posts it, then asks ``/temperature/series/``
without naming a site. On an install with several imported sites that default is remembered in
the shared Redis (every API process and host sees the same one); without a task queue there is
no default and a site must be named when several exist.
"""

from __future__ import annotations

import structlog
from fastapi import Request
from redis import RedisError

CURRENT_SITE_KEY = "ef_location:current"
log = structlog.get_logger(__name__)


def remember(request: Request, site_id: str) -> None:
    """Make ``site_id`` the default site; a Redis outage only loses the default, never the write."""
    queue = getattr(request.app.state, "tasks", None)
    if queue is None:
        return
    try:
        queue.client.set(CURRENT_SITE_KEY, site_id)
    except RedisError as exc:
        log.warning("current_site_not_saved", site_id=site_id, error=str(exc))


def recall(request: Request) -> str | None:
    """The site the last ``POST /location/`` set, or None."""
    queue = getattr(request.app.state, "tasks", None)
    if queue is None:
        return None
    try:
        raw = queue.client.get(CURRENT_SITE_KEY)
    except RedisError as exc:
        log.warning("current_site_not_read", error=str(exc))
        return None
    return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)
