"""Model registry view: active version per meter, version history, and rollback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from energy_forecast.api.deps import ModelStoreDep
from energy_forecast.api.forecast_schemas import ModelHistoryPublic, ModelVersionPublic
from energy_forecast.domain.meters import SLUG_PATTERN, MeterType
from energy_forecast.errors import ModelNotFoundError
from energy_forecast.services.champion import version_status
from energy_forecast.services.fleet_model import is_fleet_model
from energy_forecast.storage.base import ModelVersion

router = APIRouter(prefix="/models", tags=["models"])
MeterIdPath = Annotated[str, Path(pattern=SLUG_PATTERN, description="meter id (slug)")]
SUMMARY_METRICS = (
    "r2",
    "rmse",
    "mae",
    "cv_rmse_percent",
    "nmbe_percent",
    "mape_percent",
    "coverage_percent",
    "best_baseline_cv_rmse_percent",
    "cv_rmse_ratio_to_best_baseline",
)


def version_public(info: ModelVersion) -> ModelVersionPublic:
    """The registry row of one version: hold-out metrics summary, training window, save time."""
    metadata: dict[str, Any] = info.metadata
    metrics = metadata.get("metrics") or {}
    points = metadata.get("data_points")
    status, reason = version_status(info.active, metadata)
    return ModelVersionPublic(
        meter_id=info.meter_id,
        meter_type=info.meter_type,
        version=info.version,
        active=info.active,
        saved_at=info.created_at,
        training_window=metadata.get("training_window"),
        data_points=int(points) if points is not None else None,
        metrics={key: metrics.get(key) for key in SUMMARY_METRICS},
        kind="fleet" if metadata.get("kind") == "fleet" else "meter",
        blend=metadata.get("blend"),
        status=status,
        reason=reason,
        acceptance=metadata.get("acceptance"),
    )


@router.get("/", response_model=list[ModelVersionPublic])
def list_models(models: ModelStoreDep, meter_type: MeterType | None = None) -> list[ModelVersionPublic]:
    """The active model version of every meter that has one (the global ensemble members are not
    meters: ``GET /models/{type}/fleet-model`` shows theirs)."""
    return [version_public(info) for info in models.list_models(meter_type) if not is_fleet_model(info)]


@router.get("/{meter_type}/{meter_id}", response_model=ModelHistoryPublic)
def model_history(meter_type: MeterType, meter_id: MeterIdPath, models: ModelStoreDep) -> ModelHistoryPublic:
    """Every saved version of one meter, oldest first: active, previous or rejected, and why."""
    versions = models.list_versions(meter_type, meter_id)
    if not versions:
        raise ModelNotFoundError(meter_id)
    active = next((v.version for v in versions if v.active), None)
    return ModelHistoryPublic(
        meter_id=meter_id,
        meter_type=meter_type,
        active_version=active,
        versions=[version_public(v) for v in versions],
    )


@router.post("/{meter_type}/{meter_id}/activate/{version}", response_model=ModelVersionPublic)
def activate(
    meter_type: MeterType,
    meter_id: MeterIdPath,
    version: Annotated[int, Path(ge=1, le=1_000_000)],
    models: ModelStoreDep,
) -> ModelVersionPublic:
    """Make an existing version the active one (roll back or forward)."""
    return version_public(models.activate(meter_type, meter_id, version))
