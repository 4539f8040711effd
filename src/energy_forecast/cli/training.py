"""``energy-forecast train`` and ``backtest``: fit models through the queue, and judge them."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from energy_forecast.cli.common import connected, require_meters, settings
from energy_forecast.cli.operations import print_batch, train_batch
from energy_forecast.domain.meters import MeterType


def train(
    meter_id: Annotated[list[str] | None, typer.Option("--meter-id", help="meter(s) to train")] = None,
    all_meters: Annotated[bool, typer.Option("--all", help="train every registered meter")] = False,
    meter_type: Annotated[MeterType | None, typer.Option("--type", help="only meters of this type")] = None,
    threads: Annotated[int, typer.Option(min=1, max=64, help="in-process worker threads")] = 2,
) -> None:
    """Train meters through the task queue and show a progress bar until every task ends.

    First the global ensemble member of each meter type involved (once per type, on all its
    meters), then the meters, so every meter's ensemble weights are learnt with it.

    With `serve` running on this home its queue and workers train; otherwise this command does.
    """
    require_meters(meter_id, all_meters)
    chosen_settings = settings().model_copy(update={"worker_threads": threads})
    with connected(chosen_settings) as home:
        batch = train_batch(home, meter_id, all_meters, meter_type)
    if batch is None:
        typer.echo("nothing to train", err=True)
        raise typer.Exit(1)
    raise typer.Exit(1 if print_batch(batch) else 0)


def backtest(
    meter_type: Annotated[MeterType, typer.Option("--meter-type", help="electricity or water")],
    meter_id: Annotated[str | None, typer.Option("--meter-id", help="meter to backtest")] = None,
    group_id: Annotated[
        str | None, typer.Option("--group", help="backtest a group's total instead (members summed)")
    ] = None,
    horizon_hours: Annotated[int, typer.Option("--horizon-hours", min=1, max=168)] = 24,
    days: Annotated[int, typer.Option("--days", min=1, max=365, help="daily origins (last N days)")] = 28,
    as_json: Annotated[bool, typer.Option("--json", help="print exactly one JSON object")] = False,
) -> None:
    """Rolling-origin backtest over the last N days: the ensemble against seasonal-naive baselines.

    The same service ``POST /backtest/`` answers from, with the same model store: same figures.
    """
    from energy_forecast.bootstrap import build_model_store
    from energy_forecast.services.evaluation import backtest_meter

    if (meter_id is None) == (group_id is None):
        typer.echo("error: give exactly one of --meter-id and --group", err=True)
        raise typer.Exit(2)
    if group_id is not None:
        _backtest_group(group_id, meter_type, horizon_hours, days, as_json)
        return
    assert meter_id is not None
    with connected(settings(file_log=False)) as home:
        if home.service is not None:
            request = {"meter_id": meter_id, "meter_type": meter_type.value}
            result = home.service.post(
                "/backtest/", json={**request, "horizon_hours": horizon_hours, "days": days}
            )
        else:
            result = backtest_meter(
                home.local_store(),
                meter_id=meter_id,
                meter_type=meter_type,
                horizon_hours=horizon_hours,
                days=days,
                model_store=build_model_store(home.settings),
                levels=home.settings.forecast_quantiles,
            )
    if as_json:
        # stdout carries the JSON object only; logs go to stderr (configure_logging).
        typer.echo(json.dumps(result, allow_nan=False))
        return
    summary = result["summary"]
    typer.echo(f"{summary['meter_id']}: {len(result['records'])} forecast hours, {summary['note']}")
    scored = [("model", summary["model"]), *summary["baselines"].items()]
    width = max(len(name) for name, _ in scored)
    typer.echo(f"{'':<{width}}  {'CV(RMSE)':>9}  {'NMBE':>8}")
    for name, metrics in scored:
        cv, nmbe = _rounded(metrics.get("cv_rmse_percent"), 1), _rounded(metrics.get("nmbe_percent"), 1)
        typer.echo(f"{name:<{width}}  {cv + ' %':>9}  {nmbe + ' %':>8}")
    best, ratio = summary["best_baseline"], summary["cv_rmse_ratio_to_best_baseline"]
    typer.echo(f"forecaster: {summary['model_kind']}{_weights(summary['blend'])}")
    typer.echo(f"ratio to best baseline ({best}): {_rounded(ratio, 2)} (below 1 means the model beats it)")
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
            + f"; CRPS {_rounded(scores.get('crps'), 2)}, rCRPS {_percent(scores.get('rcrps'))}"
        )


def _backtest_group(
    group_id: str, meter_type: MeterType, horizon_hours: int, days: int, as_json: bool
) -> None:
    """``backtest --group``: the group total's backtest, from the service or the local store."""
    from energy_forecast.bootstrap import build_model_store
    from energy_forecast.services.group_backtest import backtest_group

    with connected(settings(file_log=False)) as home:
        options = {"meter_type": meter_type.value, "horizon_hours": horizon_hours, "days": days}
        if home.service is not None:
            result = home.service.post("/backtest/", json={"group_id": group_id, **options})
        else:
            levels = home.settings.forecast_quantiles
            result = backtest_group(
                home.local_store(), group_id=group_id, meter_type=meter_type, horizon_hours=horizon_hours,
                days=days, model_store=build_model_store(home.settings), levels=levels,
            )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(result, allow_nan=False))
        return
    s = result["summary"]
    model, summed = s["model"], s["summed_member_quantiles"]
    typer.echo(
        f"group {s['group_id']}: {s['members']} meters ({s['fallbacks']} on their fallback), "
        f"{len(result['records'])} forecast hours, {s['note']}"
    )
    typer.echo(
        f"CV(RMSE) {_rounded(model.get('cv_rmse_percent'), 1)} %; ratio to the best summed baseline "
        f"({s['best_baseline']}): {_rounded(s['cv_rmse_ratio_to_best_baseline'], 2)}"
    )
    typer.echo(
        f"coverage: P10 {_rounded(model.get('coverage_p10_percent'), 1)} %, "
        f"P90 {_rounded(model.get('coverage_p90_percent'), 1)} %, "
        f"P10-P90 {_rounded(s['band_coverage_percent'], 1)} % (members' P10/P90 added up: "
        f"{_rounded(summed['band_coverage_percent'], 1)} %)"
    )


def _rounded(value: float | None, digits: int) -> str:
    """A figure for reading, not for copying into a spreadsheet (``--json`` keeps full precision)."""
    return "\u2013" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "\u2013" if value is None else f"{100 * value:.2f} %"


def _weights(blend: dict[str, object] | None) -> str:
    """The ensemble's weights in one phrase (``--json`` has them all, unrounded)."""
    if not blend:
        return ""
    model, fleet, baseline = (float(blend.get(k) or 0.0) for k in ("model", "fleet", "baseline"))  # type: ignore[arg-type]
    named = blend.get("baseline_name")
    return f" (weights: meter model {model:.2f}, global {fleet:.2f}, {named} {baseline:.2f})"
