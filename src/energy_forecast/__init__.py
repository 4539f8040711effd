"""energy-forecast: hourly electricity and water forecasts per meter."""

__version__ = "0.1.0"
