"""The ``energy-forecast`` command line, assembled: one module per command group, thin over services.

Settings are read once per command (``cli.common.settings``); no group module imports another.
"""

from __future__ import annotations

import os
import sys

import typer

from energy_forecast.cli import (
    apikeys,
    data,
    demo,
    exporting,
    forecasts,
    groups,
    schedule,
    serving,
    training,
    weather,
)
from energy_forecast.cli import docs as docs_site
from energy_forecast.errors import EnergyForecastError

app = typer.Typer(
    name="energy-forecast",
    help="Hourly electricity and water forecasts per meter.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("import")(data.import_)
app.command("meters")(data.meters)
app.command("serve")(serving.serve)
app.command("worker")(serving.worker)
app.command("train")(training.train)
app.command("backtest")(training.backtest)
app.add_typer(weather.weather_app, name="weather")
app.command("forecast")(forecasts.forecast)
app.add_typer(apikeys.apikey_app, name="apikey")
app.command("scheduler")(schedule.scheduler_command)
app.command("schedule")(schedule.schedule_command)
app.command("docs")(docs_site.docs)
app.command("export")(exporting.export)
app.command("demo")(demo.demo)
app.command("groups")(groups.groups)


def main() -> None:
    # OpenMP runtimes (XGBoost's, scikit-learn's) spin-wait between parallel regions by default.
    # With several fits or runtimes sharing two cores that spinning made each fit up to 30x slower
    # (bench/fleet.py, 31 meters on two worker processes: 217 s before, 26 s after). The runtime reads the
    # variable when it loads, so it is set here, before any command imports XGBoost; worker
    # processes inherit it.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        app()
    except EnergyForecastError as exc:  # pragma: no cover - last resort for errors outside commands
        typer.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
