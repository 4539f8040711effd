"""A data directory sent to the running service's bulk import (``POST /import/``), as one zip.

The zip holds the directory's CSV files (and ``initial_datasets/``'s, the seed layout); the
service lays them out again and runs the same import as ``energy-forecast import`` does locally.
A large upload answers with a job, which is followed here until it ends.
"""

from __future__ import annotations

import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import typer

from energy_forecast.cli.remote import ServiceClient, ServiceError
from energy_forecast.errors import InputDataError


def zip_directory(data_dir: Path, target: Any) -> list[str]:
    """Write ``data_dir``'s CSV files into the zip ``target``; the names written."""
    if not data_dir.is_dir():
        raise InputDataError(f"{data_dir} is not a directory")
    names: list[str] = []
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for folder, prefix in ((data_dir, ""), (data_dir / "initial_datasets", "initial_datasets/")):
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.is_file() and path.suffix.lower() == ".csv":
                    archive.write(path, prefix + path.name)
                    names.append(prefix + path.name)
    return names


def upload_directory(
    service: ServiceClient,
    data_dir: Path,
    *,
    poll_s: float = 0.5,
    stamps: str = "start",
    timezone: str | None = None,
) -> dict[str, Any]:
    """Import ``data_dir`` through the service; its report (the bulk import's JSON)."""
    with tempfile.TemporaryFile() as spool:
        if not zip_directory(data_dir, spool):
            raise InputDataError(
                f"no CSV files in {data_dir}: expected meters.csv, electricity.csv, water.csv, "
                "temperature.csv or the seed's initial_datasets/*.csv"
            )
        spool.seek(0)
        typer.echo(f"sending {data_dir} to the running service at {service.record.url}", err=True)
        params = {"stamps": stamps, **({"timezone": timezone} if timezone else {})}
        answer = service.post(
            "/import/", content=spool.read(), headers={"Content-Type": "application/zip"}, params=params
        )
    if "job_id" not in answer:
        return dict(answer)
    shown = None
    while answer["state"] not in {"SUCCESS", "FAILURE"}:
        if answer["message"] != shown:
            typer.echo(f"import {answer['state'].lower()}: {answer['message']}", err=True)
            shown = answer["message"]
        time.sleep(poll_s)
        answer = service.get(f"/import/{answer['job_id']}")
    if answer["state"] == "FAILURE":
        raise ServiceError(answer["message"], 400)
    return dict(answer["report"])
