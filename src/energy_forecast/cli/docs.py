"""``energy-forecast docs``: build this version's documentation site and serve it, offline.

The site is built on demand into ``$EF_HOME/docs-site/`` from the checkout's ``mkdocs.yml`` and
``docs/``, not shipped prebuilt: its reference pages (settings, commands, HTTP routes) are
generated from the installed code at build time, so a site built here describes exactly the
version that runs, and a prebuilt copy would be a second artefact to keep in step with the code.
It is rebuilt when the sources or the package's code change (a fingerprint of their paths, sizes
and modification times). Building needs no network: the theme and its search are local files and
the site loads nothing from another host.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from energy_forecast.cli.common import settings

if TYPE_CHECKING:
    from starlette.applications import Starlette

FINGERPRINT = ".build-fingerprint"


def default_config() -> Path:
    """``mkdocs.yml`` of the checkout this package runs from (an editable install's repository)."""
    return Path(__file__).resolve().parents[3] / "mkdocs.yml"


def fingerprint(config: Path) -> str:
    """Changes whenever a page, the site configuration or the package's code changes."""
    package = Path(__file__).resolve().parents[1]
    paths = [config, *sorted((config.parent / "docs").rglob("*")), *sorted(package.rglob("*.py"))]
    digest = hashlib.sha256()
    for path in paths:
        if path.is_file() and "__pycache__" not in path.parts:
            stat = path.stat()
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def build_site(config: Path, site_dir: Path, *, force: bool = False) -> bool:
    """Build into ``site_dir`` unless it is up to date; True when it was built.

    Built next to the target and swapped in, so a failed build leaves the previous site whole.
    """
    stamp = fingerprint(config)
    if not force and (site_dir / FINGERPRINT).is_file() and (site_dir / FINGERPRINT).read_text() == stamp:
        return False
    staging = site_dir.with_name(site_dir.name + ".building")
    shutil.rmtree(staging, ignore_errors=True)
    command = [sys.executable, "-m", "mkdocs", "build", "--quiet", "--no-strict"]
    done = subprocess.run(
        [*command, "-f", str(config), "-d", str(staging)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"mkdocs build failed:\n{(done.stderr or done.stdout).strip()[-4000:]}")
    (staging / FINGERPRINT).write_text(stamp)
    shutil.rmtree(site_dir, ignore_errors=True)
    staging.rename(site_dir)
    return True


def site_app(site_dir: Path) -> Starlette:
    """The built site as an ASGI app: static files, ``index.html`` for directories, 404 page."""
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    return Starlette(routes=[Mount("/", app=StaticFiles(directory=site_dir, html=True))])


def docs(
    host: Annotated[str, typer.Option(help="bind address; keep loopback unless others may read it")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="port of the documentation site")] = 8001,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="build again even when up to date")] = False,
    build_only: Annotated[
        bool, typer.Option("--build-only", help="build (if needed), print where, and exit")
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="mkdocs.yml of the documentation sources (default: this checkout's)")
    ] = None,
) -> None:
    """Build the documentation site for this version (if needed) and serve it locally, offline."""
    chosen = settings(file_log=False)
    source = config or default_config()
    if not source.is_file():
        typer.echo(
            f"error: no documentation sources at {source}: they come with a clone of the repository "
            "(mkdocs.yml and docs/); pass --config PATH/TO/mkdocs.yml",
            err=True,
        )
        raise typer.Exit(2)
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
    except ImportError:
        typer.echo("error: building the site needs MkDocs: pip install 'energy-forecast[docs]'", err=True)
        raise typer.Exit(2) from None
    site_dir = chosen.home / "docs-site"
    try:
        built = build_site(source, site_dir, force=rebuild)
    except RuntimeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"documentation {'built' if built else 'up to date'} in {site_dir}")
    if build_only:
        return
    import uvicorn

    typer.echo(f"serving it on http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(site_app(site_dir), host=host, port=port, log_level="warning")
