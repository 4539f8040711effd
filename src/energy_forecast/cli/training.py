"""``energy-forecast train`` and ``backtest``: fit models through the queue, and judge them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from energy_forecast.cli.common import chosen_meters, opened_store, require_meters, settings
from energy_forecast.domain.meters import MeterType


def train(
    meter_id: Annotated[list[str] | None, typer.Option("--meter-id", help="meter(s) to train")] = None,
    all_meters: Annotated[bool, typer.Option("--all", help="train every registered meter")] = False,
    meter_type: Annotated[MeterType | None, typer.Option("--type", help="only meters of this type")] = None,
    threads: Annotated[int, typer.Option(min=1, max=64, help="in-process worker threads")] = 2,
) -> None:
    """Train meters through the task queue and show a progress bar until every task ends."""
    import tempfile
    import time

    from energy_forecast.bootstrap import start_task_runtime

    require_meters(meter_id, all_meters)
    chosen_settings = settings().model_copy(update={"worker_threads": threads})
    with opened_store(chosen_settings) as store:
        chosen = chosen_meters(store, meter_id, all_meters)
        chosen = [m for m in chosen if meter_type is None or m.meter_type == meter_type]
        if not chosen:
            typer.echo("nothing to train", err=True)
            raise typer.Exit(1)
        with tempfile.TemporaryDirectory(prefix="ef-redis-") as redis_dir:
            # With REDIS_URL the tasks go to the shared queue; otherwise a private Redis for this command.
            runtime = start_task_runtime(
                chosen_settings,
                series_store=store,
                run_workers=chosen_settings.redis_url is None or None,
                embedded_dir=Path(redis_dir),
            )
            try:
                batch_id, task_ids = runtime.queue.enqueue_batch([(m.meter_id, m.meter_type) for m in chosen])
                with typer.progressbar(
                    length=100 * len(task_ids), label=f"training {len(task_ids)} meters"
                ) as bar:
                    shown = 0
                    while True:
                        batch = runtime.queue.read_batch(batch_id)
                        assert batch is not None
                        done_units = batch["progress"] * len(task_ids)
                        bar.update(done_units - shown)
                        shown = done_units
                        if batch["done"]:
                            break
                        time.sleep(0.5)
            finally:
                runtime.close()
    failed = 0
    for task in batch["tasks"]:
        if task["status"] != "SUCCESS":
            failed += 1
        typer.echo(
            f"{task['details'].get('meter_id', task['task_id']):<24} {task['status']:<10} {task['message']}"
        )
    typer.echo(f"{len(task_ids) - failed} of {len(task_ids)} trained")
    raise typer.Exit(1 if failed else 0)


def backtest(
    meter_id: Annotated[str, typer.Option("--meter-id", help="meter to backtest")],
    meter_type: Annotated[MeterType, typer.Option("--meter-type", help="electricity or water")],
    horizon_hours: Annotated[int, typer.Option("--horizon-hours", min=1, max=168)] = 24,
    days: Annotated[int, typer.Option("--days", min=1, max=365, help="daily origins (last N days)")] = 28,
    as_json: Annotated[bool, typer.Option("--json", help="print exactly one JSON object")] = False,
) -> None:
    """Rolling-origin backtest over the last N days: the model against seasonal-naive baselines."""
    from energy_forecast.services.evaluation import backtest_meter

    chosen = settings(file_log=False)
    with opened_store(chosen) as store:
        result = backtest_meter(
            store,
            meter_id=meter_id,
            meter_type=meter_type,
            horizon_hours=horizon_hours,
            days=days,
            levels=chosen.forecast_quantiles,
        )
    if as_json:
        # stdout carries the JSON object only; logs go to stderr (configure_logging).
        typer.echo(json.dumps(result, allow_nan=False))
        return
    summary = result["summary"]
    typer.echo(f"{summary['meter_id']}: {len(result['records'])} forecast hours, {summary['note']}")
    for name, metrics in [("model", summary["model"]), *summary["baselines"].items()]:
        typer.echo(f"{name:<10} CV(RMSE) {metrics['cv_rmse_percent']}  NMBE {metrics['nmbe_percent']}")
    best, ratio = summary["best_baseline"], summary["cv_rmse_ratio_to_best_baseline"]
    typer.echo(f"ratio to best baseline ({best}): {ratio}")
    scores = summary["model"]
    coverage = [
        (k[len("coverage_") : -len("_percent")], v)
        for k, v in scores.items()
        if k.startswith("coverage_p") and k != "coverage_percent"
    ]
    if coverage:
        typer.echo(
            "quantile coverage (share of actuals at or below): "
            + ", ".join(f"{key} {value:.1f} %" for key, value in coverage if value is not None)
            + f"; CRPS {scores.get('crps')}, rCRPS {scores.get('rcrps')}"
        )
