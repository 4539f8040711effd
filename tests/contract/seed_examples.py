"""Every HTTP request/response example of the two seed documents, as they print them.

``../shared/seeds/energy-forecasting-system-v2-dramatiq.md`` (V2) and
``../shared/seeds/background-processing-v1-celery.md`` (V1). Independent clients of the seed design
are written against these shapes, so they are replayed unchanged by ``test_seed_examples.py``.
A response of None: the seed shows the request only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Example:
    seed: str
    method: str
    path: str
    body: dict[str, Any] | None
    response: dict[str, Any] | None


TRAIN = Example(
    "V2 1. Core Training API",
    "POST",
    "/trainmodel/",
    {"meter_id": "meter_001", "meter_type": "electricity"},
    {"task_id": "uuid-string", "status": "PENDING", "progress": 0},
)
STATUS_SUCCESS = Example(
    "V2 1. Core Training API",
    "GET",
    "/trainmodel/status/{task_id}",
    None,
    {
        "task_id": "uuid-string",
        "status": "SUCCESS",
        "progress": 100,
        "result": {
            "status": "success",
            "message": "Model trained successfully",
            "details": {
                "meter_id": "meter_001",
                "meter_type": "electricity",
                "data_points": 26388,
                "model_path": "models/electricity/meter_001.h5",
                "training_completed": "2025-06-19T13:31:38.466633",
                "training_time_seconds": 512.36,
            },
        },
    },
)
FORECAST = Example(
    "V2 2. Forecasting API",
    "POST",
    "/forecast/",
    {
        "meter_id": "meter_001",
        "meter_type": "electricity",
        "start_date": "2025-06-20",
        "end_date": "2025-06-25",
    },
    {
        "forecast_data": [
            {"datetime": "2025-06-20", "value": 45.2, "type": "historical"},
            {"datetime": "2025-06-21", "value": 48.7, "type": "forecast", "temperature": 22.5},
        ]
    },
)
TEST_MODEL = Example(
    "V2 3. Testing & Validation API",
    "POST",
    "/test_model/",
    {"meter_id": "meter_001", "meter_type": "electricity", "test_size": 0.2},
    {
        "test_results": {
            "meter_type": "electricity",
            "test_samples": 5000,
            "metrics": {
                "r2_score": 0.8954,
                "rmse": 12.45,
                "mae": 8.32,
                "mean_accuracy_percent": 92.1,
                "mape_percent": 7.9,
            },
            "performance_summary": {"r2_category": "good"},
        }
    },
)
HEALTH = Example(
    "V2 4. Health & Monitoring",
    "GET",
    "/health/",
    None,
    {
        "status": "healthy",
        "timestamp": "2025-06-19T13:30:00",
        "services": {"api": "running", "redis": "connected", "task_system": "dramatiq"},
    },
)
HEALTH_WORKER = Example(
    "V2 4. Health & Monitoring",
    "GET",
    "/health/worker",
    None,
    {
        "worker_status": "running",
        "redis_clients": 3,
        "task_system": "dramatiq",
        "timestamp": "2025-06-19T13:30:00",
    },
)
LOCATION = Example(
    "V2 5. Location & Weather API",
    "POST",
    "/location/",
    {"latitude": 40.7128, "longitude": -74.0060, "city": "New York"},
    None,
)
TEMPERATURE_VALIDATE = Example(
    "V2 5. Location & Weather API", "GET", "/temperature/validate/?days=30", None, None
)
TEMPERATURE_SERIES = Example(
    "V2 5. Location & Weather API",
    "POST",
    "/temperature/series/",
    {"start_date": "2025-06-01", "end_date": "2025-06-30"},
    None,
)
TRAIN_V2 = Example(
    "V1 Start a Training Job",
    "POST",
    "/trainmodel/v2/",
    {
        "meter_id": "meter1",
        "meter_type": "electricity",
        "start_date": "2023-01-01T00:00:00Z",
        "end_date": "2023-12-31T23:59:59Z",
    },
    {"task_id": "a1b2c3d4-e5f6-7890-abcd-1234567890ab", "status": "PENDING", "progress": 0},
)
STATUS_IN_PROGRESS = Example(
    "V1 Check Training Status (in progress)",
    "GET",
    "/trainmodel/status/{task_id}",
    None,
    {"task_id": "a1b2c3d4-e5f6-7890-abcd-1234567890ab", "status": "PROCESSING_DATA", "progress": 30},
)
STATUS_COMPLETED = Example(
    "V1 Check Training Status (completed)",
    "GET",
    "/trainmodel/status/{task_id}",
    None,
    {
        "task_id": "a1b2c3d4-e5f6-7890-abcd-1234567890ab",
        "status": "SUCCESS",
        "progress": 100,
        "result": {
            "status": "success",
            "message": "Model trained and saved at models/electricity/meter1.h5",
            "details": {
                "meter_id": "meter1",
                "meter_type": "electricity",
                "data_points": 8760,
                "model_path": "models/electricity/meter1.h5",
                "training_completed": "2023-06-01T12:34:56.789012",
            },
        },
    },
)
DOCS = Example("V2 API Documentation", "GET", "/docs", None, None)
REDOC = Example("V2 API Documentation", "GET", "/redoc", None, None)
