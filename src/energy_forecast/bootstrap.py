"""Build the adapters an entry point needs from ``Settings``; nothing is built at import time."""

from __future__ import annotations

from energy_forecast.settings import Settings
from energy_forecast.storage.base import SeriesStore


def build_series_store(settings: Settings) -> SeriesStore:
    """InfluxDB when ``INFLUX_URL`` is set, else the embedded DuckDB file under ``EF_HOME``."""
    if settings.influx.url:
        from energy_forecast.storage.influx_store import InfluxSeriesStore

        influx = settings.influx
        return InfluxSeriesStore(
            influx.url,
            influx.bucket,
            token=influx.token.get_secret_value() if influx.token else None,
            username=influx.username,
            password=influx.password.get_secret_value() if influx.password else None,
            timeout_s=influx.timeout_s,
        )
    from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

    return DuckDBSeriesStore(settings.duckdb_path)
