"""``POST /import/``: everything ``energy-forecast import`` reads, over HTTP, all or nothing.

The files (multipart, any field name; or one zip, as multipart or an ``application/zip`` body) are
written to a private temporary directory and imported by ``services.ingestion.import_directory``,
the CLI's own entry point: every file is validated before anything is written, and importing the
same files again leaves the store as it was (readings and temperatures are upserted per hour).

Up to ``SYNC_IMPORT_BYTES`` of CSV the answer is the import report (201). Larger uploads, or any
with ``?wait=false``, answer 202 with a job whose state, progress and report
``GET /import/{job_id}`` gives; jobs live in this process's memory for ``JOB_RETENTION_S``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from energy_forecast.api.arrivals import after_import
from energy_forecast.api.deps import SeriesStoreDep
from energy_forecast.api.schemas import ZoneName
from energy_forecast.errors import EnergyForecastError, InputDataError, NotFoundError
from energy_forecast.logging import get_logger
from energy_forecast.services.ingestion import import_directory
from energy_forecast.services.upload_files import UploadedFiles
from energy_forecast.storage.base import SeriesStore

log = get_logger(__name__)
router = APIRouter(prefix="/import", tags=["meters"])

SYNC_IMPORT_BYTES = 8 * 1024 * 1024
JOB_RETENTION_S = 24 * 3600
MAX_FILES = 64

_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            },
            "application/zip": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def report_content(report: Any, uploaded: UploadedFiles) -> dict[str, Any]:
    """The import report as JSON: every field of ``ImportReport``, the total and the ignored names."""
    content = asdict(report)
    content["total_readings"] = report.total_readings
    content["ignored_files"] = uploaded.ignored
    return content


class ImportJobs:
    """Background imports of this process, by id; finished ones are forgotten after a day."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}

    def start(
        self,
        store: SeriesStore,
        uploaded: UploadedFiles,
        options: dict[str, Any],
        on_done: Callable[[list[str]], None] | None = None,
    ) -> dict[str, Any]:
        job_id = uuid.uuid4().hex
        job = {
            "job_id": job_id,
            "state": "PENDING",
            "progress": 0,
            "message": f"{len(uploaded.names)} files received ({uploaded.total_bytes} bytes)",
            "files": list(uploaded.names),
            "report": None,
            "error": None,
            "created_at": time.time(),
        }
        with self.lock:
            self._expire()
            self.jobs[job_id] = job
        threading.Thread(
            target=self._run, args=(job, store, uploaded, options, on_done), daemon=True, name="import"
        ).start()
        return dict(job)

    def _run(
        self,
        job: dict[str, Any],
        store: SeriesStore,
        uploaded: UploadedFiles,
        options: dict[str, Any],
        on_done: Callable[[list[str]], None] | None,
    ) -> None:
        job.update(state="RUNNING", progress=10, message="validating every file, then writing")
        try:
            report = import_upload(store, uploaded, **options)
            job.update(
                state="SUCCESS", progress=100, message="imported", report=report_content(report, uploaded)
            )
            if on_done is not None:
                on_done(list(report.readings_written))
        except EnergyForecastError as exc:
            job.update(state="FAILURE", progress=100, message=exc.message, error=_error(exc))
        except Exception as exc:  # the job record must end; the log has the traceback
            log.exception("import_job_failed", job_id=job["job_id"])
            job.update(state="FAILURE", progress=100, message=f"import failed: {type(exc).__name__}")
        finally:
            shutil.rmtree(uploaded.directory, ignore_errors=True)
            log.info("import_job_finished", job_id=job["job_id"], state=job["state"])

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            job = self.jobs.get(job_id)
            return dict(job) if job is not None else None

    def _expire(self) -> None:
        cutoff = time.time() - JOB_RETENTION_S
        for key in [
            k
            for k, j in self.jobs.items()
            if j["created_at"] < cutoff and j["state"] in {"SUCCESS", "FAILURE"}
        ]:
            del self.jobs[key]


def import_upload(store: SeriesStore, uploaded: UploadedFiles, **options: Any) -> Any:
    """``import_directory`` on the upload; its messages name the upload, never the temporary path."""
    try:
        return import_directory(store, uploaded.directory, **options)
    except InputDataError as exc:
        where = str(uploaded.directory)
        if where not in exc.problem:
            raise
        problem = exc.problem.replace(where, "the upload")
        raise InputDataError(problem, source=exc.source, row=exc.row) from None


def _error(exc: EnergyForecastError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": type(exc).__name__, "detail": exc.message}
    for attr in ("source", "row"):
        if getattr(exc, attr, None) is not None:
            body[attr] = getattr(exc, attr)
    return body


def _jobs(request: Request) -> ImportJobs:
    jobs = getattr(request.app.state, "import_jobs", None)
    if jobs is None:
        jobs = request.app.state.import_jobs = ImportJobs()
    return jobs  # type: ignore[no-any-return]


async def _receive(request: Request, directory: FilePath) -> UploadedFiles:
    """Write the request's files into ``directory``; multipart parts are spooled, never held whole."""
    uploaded = UploadedFiles(directory)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_files=MAX_FILES, max_fields=MAX_FILES)
        try:
            for _, value in form.multi_items():
                if isinstance(value, UploadFile):
                    await run_in_threadpool(uploaded.add, value.filename or "upload.csv", value.file)
        finally:
            await form.close()
    elif content_type in {"application/zip", "application/x-zip-compressed"}:
        with tempfile.TemporaryFile() as spool:
            async for chunk in request.stream():
                spool.write(chunk)
            spool.seek(0)
            await run_in_threadpool(uploaded.add_zip, "zip body", spool)
    else:
        raise InputDataError(
            f"unsupported content type {content_type or 'none'!r}; send the files as multipart/form-data "
            "or one zip (application/zip)"
        )
    uploaded.require_some()
    return uploaded


@router.post("/", status_code=201, openapi_extra=_BODY)
async def bulk_import(
    request: Request,
    background: BackgroundTasks,
    store: SeriesStoreDep,
    wait: Annotated[
        bool | None,
        Query(
            description=f"false: always answer 202 with a job; default: wait up to {SYNC_IMPORT_BYTES} bytes"
        ),
    ] = None,
    stamps: Annotated[
        Literal["start", "end"], Query(description="whether a stamp marks its interval's start or end")
    ] = "start",
    timezone: Annotated[
        ZoneName | None,
        Query(description="zone of stamps without offset, for meters whose meters.csv row names none"),
    ] = None,
) -> Response:
    """Import meters.csv, readings of many meters and temperatures at once; all or nothing, idempotent.

    Readings may come at any interval that divides an hour or as register reads, as for
    ``energy-forecast import`` (``stamps`` and ``timezone`` are its ``--stamps`` and ``--timezone``).
    """
    options = {"stamps": stamps, "timezone": timezone}
    directory = FilePath(tempfile.mkdtemp(prefix="ef-import-"))
    try:
        uploaded = await _receive(request, directory)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    log.info("import_received", files=uploaded.names, bytes=uploaded.total_bytes, ignored=uploaded.ignored)
    if wait is False or (wait is None and uploaded.total_bytes > SYNC_IMPORT_BYTES):
        job = _jobs(request).start(store, uploaded, options, partial(after_import, request.app))
        return JSONResponse(job, status_code=202, headers={"Location": f"/import/{job['job_id']}"})
    try:
        report = await run_in_threadpool(lambda: import_upload(store, uploaded, **options))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    background.add_task(after_import, request.app, list(report.readings_written))
    return JSONResponse(report_content(report, uploaded), status_code=201)


@router.get("/{job_id}")
def import_job(request: Request, job_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]) -> dict[str, Any]:
    """A background import's state (PENDING, RUNNING, SUCCESS, FAILURE), progress, report or error."""
    job = _jobs(request).get(job_id)
    if job is None:
        raise NotFoundError(f"import job {job_id!r} is unknown (jobs are kept a day, in the serving process)")
    return job
