"""Commands for unattended operation: fleet publication as tasks, the scheduler and its status.

Registered by ``cli.py``; they reuse its settings and store helpers but no other command group.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.settings import Settings
from energy_forecast.storage.base import SeriesStore

if TYPE_CHECKING:
    from energy_forecast.tasks.publications import PublicationIndex

def publish_via_tasks(
    settings: Settings, store: SeriesStore, meters: list[Meter], *, days: int, chunk_size: int, as_json: bool
) -> int:
    """Publish ``meters`` as chunk tasks (workers write the ``forecast`` measurement); exit code.

    With ``REDIS_URL`` the tasks go to the shared queue and any worker runs them; without it a
    private Redis and in-process workers run them here.
    """
    from energy_forecast.bootstrap import start_task_runtime
    from energy_forecast.tasks.publications import PublicationIndex
    from energy_forecast.tasks.queue import batch_state

    pairs = [(m.meter_id, m.meter_type) for m in meters]
    with tempfile.TemporaryDirectory(prefix="ef-redis-") as redis_dir:
        runtime = start_task_runtime(
            settings,
            series_store=store,
            run_workers=settings.redis_url is None or None,
            embedded_dir=Path(redis_dir),
        )
        try:
            batch_id, task_ids = runtime.queue.enqueue_publication(pairs, days=days, chunk_size=chunk_size)
            typer.echo(
                f"publishing {len(pairs)} meters in {len(task_ids)} tasks (batch {batch_id})", err=True
            )
            while True:
                batch = runtime.queue.read_batch(batch_id)
                assert batch is not None
                if batch["done"]:
                    break
                time.sleep(0.2)
            index = PublicationIndex(runtime.queue.client)
            rows = [_row(index, meter_id, meter_type, batch_id) for meter_id, meter_type in pairs]
        finally:
            runtime.close()
    state = batch_state([t["status"] for t in batch["tasks"]])
    failed = sum(1 for row in rows if "error" in row)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            if "error" in row:
                typer.echo(f"{row['meter_id']:<24} error: {row['error']}")
            else:
                typer.echo(
                    f"{row['meter_id']:<24} {row['model_version']:<12} {row['first_hour']} .. "
                    f"{row['last_hour']}  {row['points_written']} points written"
                )
        typer.echo(f"{len(rows) - failed} of {len(rows)} meters published ({state})", err=True)
    return 0 if state == "SUCCESS" and not failed else 1


def _row(index: PublicationIndex, meter_id: str, meter_type: MeterType, batch_id: str) -> dict[str, object]:
    """This batch's result for one meter, in ``forecast --json``'s row shape."""
    error = index.last_error(meter_type, meter_id)
    latest = index.latest(meter_type, meter_id)
    if error is not None and (latest is None or error["issued_at"] > latest["issued_at"]):
        return {"meter_id": meter_id, "error": error["error"]}
    if latest is None:
        return {"meter_id": meter_id, "error": f"no result (batch {batch_id} did not publish it)"}
    keys = (
        "meter_id",
        "meter_type",
        "model_version",
        "points_written",
        "first_hour",
        "last_hour",
        "substituted",
    )
    return {key: latest.get(key) for key in keys}


def _row(index: PublicationIndex, meter_id: str, meter_type: MeterType, batch_id: str) -> dict[str, object]:
    """This batch's result for one meter, in ``forecast --json``'s row shape."""
    error = index.last_error(meter_type, meter_id)
    latest = index.latest(meter_type, meter_id)
    if error is not None and (latest is None or error["issued_at"] > latest["issued_at"]):
        return {"meter_id": meter_id, "error": error["error"]}
    if latest is None:
        return {"meter_id": meter_id, "error": f"no result (batch {batch_id} did not publish it)"}
    keys = (
        "meter_id",
        "meter_type",
        "model_version",
        "points_written",
        "first_hour",
        "last_hour",
        "substituted",
    )
    return {key: latest.get(key) for key in keys}
