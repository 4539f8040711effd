"""Peak and cost forecasts of a meter or group, read from its joint forecast scenarios."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from energy_forecast.api.cost_schemas import CostRequest, PeaksRequest
from energy_forecast.api.deps import ModelCacheDep, ModelStoreDep, SeriesStoreDep, TaskQueueDep, WeatherDep
from energy_forecast.errors import InputDataError
from energy_forecast.services.cost import cost_report
from energy_forecast.services.peaks import peaks_report
from energy_forecast.services.subjects import subject_for
from energy_forecast.services.tariffs import attached_tariff, checked_tariff, stored_tariff, subject_key
from energy_forecast.services.weather import ProviderTemperature
from energy_forecast.tasks.queue import redis_errors

router = APIRouter(tags=["peaks and cost"])


@router.post("/peaks/")
def peaks(
    body: PeaksRequest, store: SeriesStoreDep, models: ModelStoreDep, cache: ModelCacheDep, chain: WeatherDep
) -> dict[str, Any]:
    """Forecast daily or billing-month peak (quantiles, likely hour) and, per forecast day, the
    probability of exceeding the threshold (default: the month-to-date peak)."""
    subject = subject_for(
        store, models, meter_id=body.meter_id, group_id=body.group_id, meter_type=body.meter_type,
        cache=cache, weather=ProviderTemperature(store, chain),
    )  # fmt: skip
    return peaks_report(subject, body.period, body.threshold)


@router.post("/cost/")
def cost(
    body: CostRequest,
    store: SeriesStoreDep,
    models: ModelStoreDep,
    cache: ModelCacheDep,
    chain: WeatherDep,
    queue: TaskQueueDep,
) -> dict[str, Any]:
    """Forecast cost of a billing month under a tariff (inline, stored, or the one attached):
    so far plus the rest, with quantiles per component and the hours that drive the demand charge."""
    subject = subject_for(
        store, models, meter_id=body.meter_id, group_id=body.group_id, meter_type=body.meter_type,
        cache=cache, weather=ProviderTemperature(store, chain),
    )  # fmt: skip
    tariff_id = body.tariff_id
    if body.tariff is not None:
        tariff = checked_tariff(body.tariff)
    else:
        with redis_errors("read tariffs"):
            if tariff_id is not None:
                tariff = stored_tariff(queue.client, tariff_id)
            else:
                key = subject_key(subject.kind, subject.subject_id, subject.meter_type.value)
                found = attached_tariff(queue.client, key)
                if found is None:
                    raise InputDataError(
                        f"{subject.kind} {subject.subject_id!r} has no tariff attached; give tariff or "
                        "tariff_id, or attach one with PUT /tariffs/{id}/attach"
                    )
                tariff_id, tariff = found
    return cost_report(store, subject, tariff, tariff_id=tariff_id, period=body.period)
