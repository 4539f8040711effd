"""The service home (``EF_HOME``) is private to the user the service runs as.

It holds every reading (``energy.duckdb``), every model, the API key digests, the logs and the
embedded Redis's snapshot: none of it is for other local users. Every entry point
(``serve``, ``worker``, the CLI, ``create_app``'s lifespan) calls ``prepare_home`` first: the
home and its directories are created 0700, and a directory or file found looser (group or other
bits set: an older install, a restore without ``-p``, a permissive umask) is tightened, with one
log line naming what changed. Files inside are 0600; whatever lies deeper (model versions) is
unreachable to others through its 0700 parent whatever its own mode, and ``serve``/``worker`` run
with umask 077 so what they create later is owner-only too. ``private_tree`` is what a component
that writes its own files there (the embedded Redis) can call after start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from energy_forecast.logging import get_logger
from energy_forecast.settings import Settings

log = get_logger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def tighten(path: Path) -> bool:
    """Drop the group and other bits of ``path``; True when it had any. A missing path is left alone."""
    try:
        mode = stat.S_IMODE(path.lstat().st_mode)
    except FileNotFoundError:
        return False
    if path.is_symlink() or not mode & 0o077:
        return False
    try:
        os.chmod(path, mode & 0o700)
    except PermissionError:  # another user's file (a CLI run by someone else): say so, go on
        log.warning("home_permissions_not_tightened", path=str(path), mode=oct(mode))
        return False
    return True


def private_dir(path: Path) -> bool:
    """Create ``path`` 0700 if missing; True when an existing one had to be tightened."""
    if not path.exists():
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode is filtered by the umask
        return False
    return tighten(path)


def private_tree(directory: Path) -> list[Path]:
    """Tighten ``directory`` and every file and directory directly inside it (the embedded Redis's
    socket and snapshot); returns what changed."""
    if not directory.is_dir():
        return []
    changed = [directory] if tighten(directory) else []
    changed += [entry for entry in sorted(directory.iterdir()) if tighten(entry)]
    return changed


def prepare_home(settings: Settings) -> list[Path]:
    """Create the home's directories private and tighten what is looser; returns what changed."""
    home = settings.home
    # With models in S3 there is no models/ directory: the home keeps logs and keys only.
    models = [] if settings.model_store_url else [settings.models_dir]
    changed = [
        path
        for path in (home, *models, settings.api_keys_path.parent, settings.logs_dir)
        if private_dir(path)
    ]
    files = [settings.duckdb_path, settings.duckdb_path.with_name(settings.duckdb_path.name + ".wal")]
    files += [settings.api_keys_path, *sorted(settings.logs_dir.glob("energy_forecasting_*.log*"))]
    changed += [path for path in files if tighten(path)]
    changed += private_tree(settings.embedded_redis_dir)
    if changed:
        log.warning(
            "home_permissions_tightened",
            home=str(home),
            paths=[str(path.relative_to(home)) if path != home else "." for path in changed],
            note="group and other access removed: the home holds readings, models and key digests",
        )
    return changed
