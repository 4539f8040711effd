"""Build the adapters an entry point needs from ``Settings``; nothing is built at import time."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import dramatiq
import httpx
from dramatiq.brokers.redis import RedisBroker

from energy_forecast.errors import ConfigurationError
from energy_forecast.logging import get_logger
from energy_forecast.services.training import train_meter
from energy_forecast.settings import Settings
from energy_forecast.storage.base import ModelStore, SeriesStore
from energy_forecast.storage.model_store import FileModelStore
from energy_forecast.tasks.actors import declare_actors
from energy_forecast.tasks.broker import build_broker, reclaim_dead_workers
from energy_forecast.tasks.context import configure as configure_context
from energy_forecast.tasks.context import reset as reset_context
from energy_forecast.tasks.embedded import EmbeddedRedis
from energy_forecast.tasks.queue import TaskQueue
from energy_forecast.tasks.worker import start_worker, stop_worker
from energy_forecast.weather.base import WeatherProvider
from energy_forecast.weather.fallback import FallbackChain
from energy_forecast.weather.http import JsonFetcher
from energy_forecast.weather.open_meteo import OpenMeteoProvider
from energy_forecast.weather.openweathermap import OpenWeatherMapProvider

log = get_logger(__name__)


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


def fit_threads(settings: Settings, concurrent_fits: int) -> int:
    """XGBoost threads per fit so that concurrent fits together use the cores once."""
    if settings.fit_threads is not None:
        return settings.fit_threads
    return max(1, (os.cpu_count() or 1) // max(1, concurrent_fits))


def training_function(settings: Settings, concurrent_fits: int) -> Callable[..., dict[str, Any]]:
    return partial(
        train_meter,
        fit_threads=fit_threads(settings, concurrent_fits),
        accept_margin=settings.models.accept_margin,
    )


def build_model_store(settings: Settings) -> ModelStore:
    """The S3 bucket of ``EF_MODEL_STORE_URL`` (shared by every host), else files under ``EF_HOME``."""
    if settings.model_store_url:
        from energy_forecast.storage.s3_model_store import S3ModelStore

        return S3ModelStore.from_url(
            settings.model_store_url,
            endpoint_url=settings.s3_endpoint_url,
            timeout_s=settings.s3_timeout_s,
            create_bucket=settings.s3_create_bucket,
            pointer_ttl_s=settings.s3_pointer_ttl_s,
        )
    return FileModelStore(settings.models_dir)


def model_store_description(settings: Settings) -> str:
    """Where models live, for health and logs: never a credential."""
    if settings.model_store_url:
        return f"{settings.model_store_url} at {settings.s3_endpoint_url or 'AWS S3'}"
    return str(settings.models_dir)


# How long workers keep retrying Redis commands through an outage (a restart, a failover) before
# giving up on a progress record, result or retry; see tasks/broker.py.
WORKER_REDIS_OUTAGE_TOLERANCE = timedelta(minutes=5)


def broker_options(settings: Settings) -> dict[str, Any]:
    """Our explicit Dramatiq limits (its defaults: 10 min kill, 20 retries, 10 min results)."""
    return {
        "retention": settings.task_retention,
        "time_limit": settings.task_time_limit,
        "max_retries": settings.task_max_retries,
        "heartbeat_timeout": settings.worker_heartbeat_timeout,
    }


@dataclass
class TaskRuntime:
    """The task side of one process: broker, queue, and optionally in-process workers."""

    queue: TaskQueue
    broker: RedisBroker
    embedded: EmbeddedRedis | None = None
    worker: dramatiq.Worker | None = None
    redis_url: str | None = None  # the queue's Redis (embedded or external), for the task monitor
    worker_broker: RedisBroker | None = None

    def close(self) -> None:
        if self.worker is not None:
            stop_worker(self.worker)
        if self.worker_broker is not None:
            self.worker_broker.close()
        self.broker.close()
        reset_context()
        if self.embedded is not None:
            self.embedded.stop()


def start_task_runtime(
    settings: Settings,
    *,
    series_store: SeriesStore | None = None,
    run_workers: bool | None = None,
    embedded_dir: Path | None = None,
) -> TaskRuntime:
    """Connect (or start the embedded) Redis, declare actors, and run workers in-process when asked.

    Workers run in-process by default when there is no ``REDIS_URL`` (one command, one machine)
    and whenever the store is the DuckDB file, which only one process may open for writing.
    """
    embedded = None
    redis_url = settings.redis_url
    if redis_url is None:
        embedded = EmbeddedRedis(
            embedded_dir or settings.embedded_redis_dir, appendfsync=settings.embedded_redis_appendfsync
        )
        redis_url = embedded.start()
    try:
        # The API's pool: task routes wait briefly for a connection rather than fail (streams use their own).
        broker = build_broker(
            redis_url,
            **broker_options(settings),
            max_connections=settings.limits.redis_connections,
            pool_wait=timedelta(seconds=settings.limits.redis_wait_s),
        )
        actors = declare_actors(
            broker,
            training_time_limit=settings.task_time_limit,
            training_max_retries=settings.task_max_retries,
            quantile_levels=settings.forecast_quantiles,
        )
        if embedded is not None:
            # The server and the home's lock are ours: every broker id it knows is a dead run's.
            requeued = reclaim_dead_workers(broker)
            if requeued:
                log.warning("dead_run_tasks_requeued", messages=requeued)
        if run_workers is None:
            run_workers = embedded is not None or settings.storage_backend == "duckdb"
        worker = worker_broker = None
        if run_workers:
            store = series_store if series_store is not None else build_series_store(settings)
            configure_context(
                lambda: store,
                lambda: build_model_store(settings),
                train=training_function(settings, settings.worker_threads),
            )
            # The workers' own broker rides out a Redis outage; the API's answers 503 meanwhile.
            worker_broker = build_broker(
                redis_url,
                **broker_options(settings),
                outage_tolerance=WORKER_REDIS_OUTAGE_TOLERANCE,
                set_global=False,
            )
            declare_actors(
                worker_broker,
                training_time_limit=settings.task_time_limit,
                training_max_retries=settings.task_max_retries,
                quantile_levels=settings.forecast_quantiles,
            )
            worker = start_worker(
                worker_broker, threads=settings.worker_threads, queues=settings.worker_queues
            )
    except BaseException:
        if embedded is not None:
            embedded.stop()
        raise
    return TaskRuntime(TaskQueue(broker, actors), broker, embedded, worker, redis_url, worker_broker)


def worker_process_bootstrap(settings: Settings, concurrent_fits: int = 1) -> RedisBroker:
    """What each ``energy-forecast worker`` child process runs before consuming (picklable)."""
    from energy_forecast.home import prepare_home
    from energy_forecast.logging import configure_logging

    configure_logging(level=settings.log_level, logs_dir=settings.logs_dir, json_console=settings.log_json)
    prepare_home(settings)
    if settings.redis_url is None:
        raise ConfigurationError("REDIS_URL", "separate workers need a shared Redis; set REDIS_URL")
    broker = build_broker(
        settings.redis_url, **broker_options(settings), outage_tolerance=WORKER_REDIS_OUTAGE_TOLERANCE
    )
    declare_actors(
        broker,
        training_time_limit=settings.task_time_limit,
        training_max_retries=settings.task_max_retries,
        quantile_levels=settings.forecast_quantiles,
    )
    configure_context(
        lambda: build_series_store(settings),
        lambda: build_model_store(settings),
        train=training_function(settings, concurrent_fits),
    )
    return broker


@dataclass
class WeatherRuntime:
    """The provider chain and the HTTP client it owns; close() when the entry point stops."""

    chain: FallbackChain
    client: httpx.Client

    def close(self) -> None:
        self.client.close()


def build_weather(settings: Settings) -> WeatherRuntime:
    """Providers in ``settings.weather.provider_order`` over one pooled client with timeouts."""
    weather = settings.weather
    client = httpx.Client(
        timeout=httpx.Timeout(weather.timeout_s, connect=min(weather.timeout_s, 5.0)),
        headers={"User-Agent": "energy-forecast"},
    )
    key = weather.api_key.get_secret_value() if weather.api_key else ""
    providers: list[WeatherProvider] = []
    for name in weather.provider_order:
        fetcher = JsonFetcher(
            name,
            client,
            max_retries=weather.max_retries,
            secrets=[key],
            auth_hint=(
                "check the API key (OPENWEATHER_API_KEY or EF_WEATHER__API_KEY) and that your plan "
                "includes this API"
                if name == "openweathermap"
                else "check EF_WEATHER__OPEN_METEO_URL; Open-Meteo needs no key"
            ),
        )
        if name == "openweathermap":
            providers.append(OpenWeatherMapProvider(fetcher, key, weather.base_url, weather.history_url))
        else:
            providers.append(
                OpenMeteoProvider(fetcher, weather.open_meteo_url, weather.open_meteo_archive_url)
            )
    return WeatherRuntime(FallbackChain(providers, cooldown=weather.cooldown), client)
