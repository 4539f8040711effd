"""The domain exception tree.

Every error the service raises on purpose is one of these. The HTTP layer maps each to a status
code with a message that says what to fix. Classes that match one of the seed's six task error
classes carry that ``error_type`` code; the others carry none (``None``), so an HTTP answer never
claims a classification that is not true. The task layer files a task's error under
``task_error:{id}`` with the class's code, and ``TRAINING_ERROR`` for an unclassified one.

    EnergyForecastError                  (error_type None unless set below)
    ├── ConfigurationError               invalid or incoherent settings
    ├── InvalidIdentifierError           meter/site id unsafe for paths and queries
    ├── InputDataError                   rejected import: names file, row and problem
    ├── NotFoundError
    │   ├── MeterNotFoundError           NO_DATA_FOUND (meter not in the registry)
    │   └── ModelNotFoundError           no trained model for the meter
    ├── ConflictError                    request contradicts stored state
    ├── DataQualityError
    │   ├── NoDataFoundError             NO_DATA_FOUND
    │   ├── InsufficientDataError        INSUFFICIENT_DATA
    │   └── FlatlineError                INSUFFICIENT_DATA (stuck meter)
    ├── TrainingError                    TRAINING_ERROR
    ├── StorageError                     CONNECTION_ERROR (store unreachable or refused the write)
    ├── QueueUnavailableError            CONNECTION_ERROR (Redis unreachable)
    └── WeatherProviderError             CONNECTION_ERROR (a weather API failed; names the provider)
        ├── WeatherAuthError             the provider refused the API key (HTTP 401/403)
        └── WeatherUnavailableError      timeout, network error, rate limit or 5xx after retries
"""

from __future__ import annotations

from enum import StrEnum


class ErrorType(StrEnum):
    """The seed's error classification, stored in ``task_error:{id}.error_type``."""

    CONNECTION_ERROR = "CONNECTION_ERROR"
    MEMORY_ERROR = "MEMORY_ERROR"
    TIMEOUT_ERROR = "TIMEOUT_ERROR"
    TRAINING_ERROR = "TRAINING_ERROR"
    NO_DATA_FOUND = "NO_DATA_FOUND"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class EnergyForecastError(Exception):
    """Base of every error the service raises on purpose."""

    error_type: ErrorType | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(EnergyForecastError):
    """Raised when settings are invalid or contradict each other; stops start-up."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"setting {setting}: {problem}")
        self.setting = setting
        self.problem = problem


class InvalidIdentifierError(EnergyForecastError, ValueError):
    """Raised when an id that would reach a file path or a query is not a safe slug."""

    def __init__(self, kind: str, value: str, rule: str) -> None:
        super().__init__(f"invalid {kind} {value!r}: {rule}")
        self.kind = kind
        self.value = value


class InputDataError(EnergyForecastError, ValueError):
    """Raised when imported readings are malformed; nothing of the input is written."""

    def __init__(self, problem: str, *, source: str | None = None, row: int | None = None) -> None:
        where = []
        if source is not None:
            where.append(source)
        if row is not None:
            where.append(f"row {row}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + problem)
        self.source = source
        self.row = row
        self.problem = problem


class NotFoundError(EnergyForecastError):
    """Raised when a requested object does not exist."""


class MeterNotFoundError(NotFoundError):
    """Raised when a meter id is not in the registry."""

    error_type = ErrorType.NO_DATA_FOUND

    def __init__(self, meter_id: str) -> None:
        super().__init__(f"meter {meter_id!r} is not registered; import its readings first")
        self.meter_id = meter_id


class ModelNotFoundError(NotFoundError):
    """Raised when a meter has no trained model (or not the requested version)."""

    def __init__(self, meter_id: str, detail: str = "no trained model") -> None:
        super().__init__(f"meter {meter_id!r}: {detail}; train it with POST /trainmodel/")
        self.meter_id = meter_id


class ConflictError(EnergyForecastError):
    """Raised when a request contradicts what is stored (e.g. a meter registered with another type)."""


class DataQualityError(EnergyForecastError):
    """Raised when stored data cannot support a model; carries the meter id."""

    error_type = ErrorType.INSUFFICIENT_DATA

    def __init__(self, message: str, *, meter_id: str | None = None) -> None:
        super().__init__(message)
        self.meter_id = meter_id


class NoDataFoundError(DataQualityError):
    """Raised when a meter has no readings in the requested window."""

    error_type = ErrorType.NO_DATA_FOUND


class InsufficientDataError(DataQualityError):
    """Raised when there are too few or too incomplete readings to train."""

    error_type = ErrorType.INSUFFICIENT_DATA


class FlatlineError(DataQualityError):
    """Raised when readings hold one value for 24 h or more (a stuck meter)."""

    error_type = ErrorType.INSUFFICIENT_DATA


class TrainingError(EnergyForecastError):
    """Raised when fitting or evaluating a model fails for a reason other than the data."""

    error_type = ErrorType.TRAINING_ERROR


class StorageError(EnergyForecastError):
    """Raised when the time-series or model store is unreachable or refuses a write."""

    error_type = ErrorType.CONNECTION_ERROR


class QueueUnavailableError(EnergyForecastError):
    """Raised when the task broker (Redis) cannot be reached."""

    error_type = ErrorType.CONNECTION_ERROR


class WeatherProviderError(EnergyForecastError):
    """Raised when a weather provider cannot answer; ``provider`` names it, the message says what to do."""

    error_type = ErrorType.CONNECTION_ERROR

    def __init__(self, provider: str, problem: str) -> None:
        super().__init__(f"weather provider {provider}: {problem}")
        self.provider = provider
        self.problem = problem


class WeatherAuthError(WeatherProviderError):
    """Raised when a provider answers 401/403: the API key is missing, wrong or not entitled."""


class WeatherUnavailableError(WeatherProviderError):
    """Raised on a timeout, a network error, or 429/5xx still failing after retries."""
