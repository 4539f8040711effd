"""The ``energy-forecast`` command line (``cli.app``); ``main`` is the console-script entry point."""

from energy_forecast.cli.app import app, main

__all__ = ["app", "main"]
