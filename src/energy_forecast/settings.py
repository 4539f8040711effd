"""Settings: read once at each entry point and passed down as plain values.

Sources, strongest first: explicit arguments, ``EF_*`` environment variables (nested with ``__``,
e.g. ``EF_INFLUX__URL``), the seed's plain variables (``REDIS_URL``, ``DEBUG``, ``INFLUX_URL``,
``INFLUX_TOKEN``, ``INFLUX_ORG``, ``INFLUX_BUCKET``, ``OPENWEATHER_API_KEY``), the seed's JSON files
(``config/influxdb_config.json``, ``config/weather_config.json`` under ``EF_CONFIG_DIR``), defaults.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from energy_forecast.config_feedback import Duration, describe_error
from energy_forecast.errors import ConfigurationError
from energy_forecast.logging import redact_text
from energy_forecast.settings_alerts import AlertSettings
from energy_forecast.settings_limits import LimitSettings, QuantileLevels, WorkerQueues

# The seed's plain environment variables and where they land in the nested model.
SEED_ENV: dict[str, tuple[str, ...]] = {
    "REDIS_URL": ("redis_url",),
    "DEBUG": ("debug",),
    "INFLUX_URL": ("influx", "url"),
    "INFLUX_TOKEN": ("influx", "token"),
    "INFLUX_ORG": ("influx", "org"),
    "INFLUX_BUCKET": ("influx", "bucket"),
    "INFLUX_USERNAME": ("influx", "username"),
    "INFLUX_PASSWORD": ("influx", "password"),
    "OPENWEATHER_API_KEY": ("weather", "api_key"),
}
SEED_FILES: dict[str, str] = {"influx": "influxdb_config.json", "weather": "weather_config.json"}


def _check_http_url(value: str | None, setting: str) -> str | None:
    if value is None or value == "":
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(
            f"{setting} must be an http(s) URL like http://localhost:8086, got {redact_text(value)!r}"
        )
    return value.rstrip("/")


def _redacted_repr_args(args: Any) -> list[tuple[str | None, Any]]:
    """repr() of settings without URL passwords (SecretStr fields hide themselves)."""
    return [(name, redact_text(v) if isinstance(v, str) else v) for name, v in args]


class InfluxSettings(BaseModel):
    """InfluxDB v1 HTTP API (native on 1.x, compatibility endpoints on 2.x/3.x)."""

    url: str | None = None
    token: SecretStr | None = None
    org: str | None = None
    bucket: str = "energy_forecasting"
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(default=10.0, gt=0, le=300)

    def __repr_args__(self) -> Any:
        return _redacted_repr_args(super().__repr_args__())

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_http_url(value, "INFLUX_URL")

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not value or any(c in value for c in "\"'\\\n\r\t "):
            raise ValueError("INFLUX_BUCKET must be a plain name without quotes or spaces")
        return value


class WeatherSettings(BaseModel):
    """OpenWeatherMap key and base URL (seed's weather_config.json); Open-Meteo needs no key."""

    api_key: SecretStr | None = None
    base_url: str = "https://api.openweathermap.org/data/2.5"
    open_meteo_url: str = "https://api.open-meteo.com/v1"
    open_meteo_archive_url: str = "https://archive-api.open-meteo.com/v1"
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    history_url: str = "https://history.openweathermap.org/data/2.5"
    # Provider order; unset = OpenWeatherMap when a key is set, then Open-Meteo. [] = offline.
    providers: list[Literal["openweathermap", "open-meteo"]] | None = None
    max_retries: int = Field(default=3, ge=0, le=10)
    cooldown: Duration = timedelta(seconds=60)

    @field_validator("base_url", "open_meteo_url", "open_meteo_archive_url", "history_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        checked = _check_http_url(value, "weather URL")
        if checked is None:
            raise ValueError("weather URLs must not be empty")
        return checked

    @model_validator(mode="after")
    def _key_for_owm(self) -> WeatherSettings:
        if self.providers and "openweathermap" in self.providers and self.api_key is None:
            raise ValueError("providers lists openweathermap but no API key is set (OPENWEATHER_API_KEY)")
        return self

    @property
    def provider_order(self) -> list[str]:
        if self.providers is not None:
            return list(dict.fromkeys(self.providers))
        return (["openweathermap"] if self.api_key else []) + ["open-meteo"]


class ScheduleSettings(BaseModel):
    """The scheduler that keeps a fleet fresh: what it enqueues and how often it looks."""

    enabled: bool = True
    tick: Duration = timedelta(minutes=1)
    model_max_age: Duration = timedelta(days=7)
    drift_factor: float = Field(default=1.5, gt=1.0, le=100.0)
    forecast_every: Duration = timedelta(hours=1)
    forecast_days: int = Field(default=7, ge=1, le=31)
    forecast_chunk_size: int = Field(default=50, ge=1, le=10_000)
    forecast_retention: Duration = timedelta(days=90)
    keep_versions: int = Field(default=5, ge=1, le=1000)
    retention_every: Duration = timedelta(hours=1)
    # Run the scheduler inside `serve`: default only without REDIS_URL (the embedded install);
    # with a shared Redis run `energy-forecast scheduler` processes instead (or set this true).
    in_serve: bool | None = None

    @field_validator("tick", "model_max_age", "forecast_every", "forecast_retention", "retention_every")
    @classmethod
    def _at_least_a_second(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1 second")
        return value


class ModelSettings(BaseModel):
    """Champion/challenger: how much worse than the active model a retrained one may be."""

    # A fraction: 0.05 = a challenger may be up to 5 % worse (CV(RMSE), same hours) and still win.
    accept_margin: float = Field(default=0.05, ge=0.0, le=1.0)


class Settings(BaseSettings):
    """Every knob of the service, validated at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="EF_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    home: Path = Path("./var")
    config_dir: Path = Path("./config")
    debug: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = False
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    worker_threads: int = Field(default=2, ge=1, le=64)
    fit_threads: int | None = Field(default=None, ge=1, le=256)
    task_retention: Duration = timedelta(days=7)
    task_time_limit: Duration = timedelta(hours=1)
    task_max_retries: int = Field(default=3, ge=0, le=20)
    worker_heartbeat_timeout: Duration = timedelta(seconds=60)
    # When the embedded Redis fsyncs its append-only file, so what a power cut may lose:
    # everysec about the last second of writes, always nothing acknowledged.
    embedded_redis_appendfsync: Literal["everysec", "always"] = "everysec"
    max_import_rows: int = Field(default=500_000, ge=1)
    # Require API keys even on loopback (keys are enforced anyway off loopback and once a key exists).
    auth_required: bool = False
    rate_limit_per_s: float = Field(default=100.0, ge=0)
    rate_limit_burst: int = Field(default=200, ge=1)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    request_timeout: Duration = timedelta(seconds=120)
    # One training stream connection at most this long; the client resumes with Last-Event-ID.
    stream_max_duration: Duration = timedelta(minutes=10)
    # Browsers on other origins allowed to call the API: exact origins; empty means no CORS headers.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    cors_allow_credentials: bool = False
    # Models in S3, shared by every host: s3://BUCKET/PREFIX; unset = files under EF_HOME/models.
    model_store_url: str | None = None
    s3_endpoint_url: str | None = None  # MinIO, Ceph, SeaweedFS...; unset = AWS S3
    s3_timeout_s: float = Field(default=10.0, gt=0, le=300)
    s3_create_bucket: bool = True
    # How long a host trusts its cached active pointer before one conditional GET (304 if unchanged).
    s3_pointer_ttl_s: float = Field(default=1.0, ge=0, le=60)
    # The key the CLI sends to a running service on this home (EF_API_KEY); unset: its own local key.
    api_key: SecretStr | None = None
    influx: InfluxSettings = InfluxSettings()
    weather: WeatherSettings = WeatherSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    models: ModelSettings = ModelSettings()
    # Capacity limits and which task queues a worker serves (docs/reference/limits-and-scopes.md).
    limits: LimitSettings = LimitSettings()
    worker_queues: WorkerQueues = None  # task kinds or queues, e.g. training,evaluation; unset: all
    # Forecast quantile levels: every forecast carries these as p.. keys (e.g. 0.1,0.5,0.9).
    forecast_quantiles: QuantileLevels = (0.1, 0.5, 0.9)
    # Alert rules, their scheduler job and webhook (docs/how-to/alerts.md).
    alerts: AlertSettings = AlertSettings()

    def __repr_args__(self) -> Any:
        return _redacted_repr_args(super().__repr_args__())

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
            raise ValueError(
                f"REDIS_URL must start with redis://, rediss:// or unix://, got {redact_text(value)!r}"
            )
        return value

    @field_validator("model_store_url")
    @classmethod
    def _model_store_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme != "s3" or not parts.netloc or "@" in parts.netloc:
            raise ValueError(
                "EF_MODEL_STORE_URL must look like s3://BUCKET/PREFIX (credentials come from the AWS "
                f"chain, never the URL), got {'user-info@' if '@' in parts.netloc else redact_text(value)!r}"
            )
        return value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _s3_endpoint(cls, value: str | None) -> str | None:
        checked = _check_http_url(value, "EF_S3_ENDPOINT_URL")
        if checked and (urlsplit(checked).username or urlsplit(checked).password):
            raise ValueError(
                "EF_S3_ENDPOINT_URL must not carry credentials (user:password@); give them through "
                "the AWS chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role"
            )
        return checked

    @field_validator("task_retention")
    @classmethod
    def _retention(cls, value: timedelta) -> timedelta:
        if value < timedelta(minutes=10):
            raise ValueError("EF_TASK_RETENTION must be at least 10 minutes")
        return value

    @field_validator("task_time_limit", "worker_heartbeat_timeout", "request_timeout", "stream_max_duration")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1 second")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _cors_origins(cls, value: Any) -> Any:
        """A JSON list (``["https://a.example"]``) or comma-separated text; each an exact origin."""
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [p for p in text.split(",") if p.strip()]
        if not isinstance(value, list):
            return value
        origins = [str(item).strip() for item in value]
        for origin in origins:
            parts = urlsplit(origin)
            exact = (
                parts.scheme in {"http", "https"}
                and parts.netloc
                and origin == f"{parts.scheme}://{parts.netloc}"
            )
            if origin != "*" and not exact:
                raise ValueError(
                    f"EF_CORS_ORIGINS entry {origin!r} is not an origin; give scheme://host[:port] with no "
                    "path or trailing slash (browsers send exactly that), or '*'"
                )
        return origins

    @model_validator(mode="after")
    def _coherent(self) -> Settings:
        if self.influx.username and not self.influx.password:
            raise ValueError("INFLUX_USERNAME is set without INFLUX_PASSWORD")
        if "*" in self.cors_origins and self.cors_allow_credentials:
            raise ValueError(
                "EF_CORS_ORIGINS '*' together with EF_CORS_ALLOW_CREDENTIALS would let every site act with "
                "a visitor's credentials (and browsers refuse it); list the origins that may, or drop "
                "credentials"
            )
        if self.debug:
            self.log_level = "DEBUG"
        return self

    @property
    def storage_backend(self) -> Literal["duckdb", "influxdb"]:
        return "influxdb" if self.influx.url else "duckdb"

    @property
    def duckdb_path(self) -> Path:
        return self.home / "energy.duckdb"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def embedded_redis_dir(self) -> Path:
        return self.home / "redis"

    @property
    def api_keys_path(self) -> Path:
        return self.home / "config" / "api_keys.json"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _SeedEnvSource(settings_cls),
            _SeedJsonSource(settings_cls),
        )


class _SeedEnvSource(PydanticBaseSettingsSource):
    """The seed's un-prefixed variables (REDIS_URL, INFLUX_URL, ...)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for var, path in SEED_ENV.items():
            if var in os.environ:
                _set_path(data, path, os.environ[var])
        return data


class _SeedJsonSource(PydanticBaseSettingsSource):
    """The seed's JSON files under the config directory; weaker than any environment variable."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        config_dir = Path(os.environ.get("EF_CONFIG_DIR", "./config"))
        data: dict[str, Any] = {}
        for section, filename in SEED_FILES.items():
            path = config_dir / filename
            if not path.is_file():
                continue
            try:
                content = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ConfigurationError(str(path), f"not readable JSON ({exc})") from exc
            if not isinstance(content, dict):
                raise ConfigurationError(str(path), "must hold a JSON object")
            data[section] = {k: v for k, v in content.items() if v not in (None, "")}
        return data


def _set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = value


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning a validation failure into one ConfigurationError line.

    Raises:
        ConfigurationError: names the first invalid variable, the value given, what is wrong and an
            example of a valid one.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        setting, problem = describe_error(Settings, exc.errors()[0], os.environ, SEED_ENV)
        raise ConfigurationError(setting, problem) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` or pass Settings directly."""
    return load_settings()
