"""Stored tariffs (``services.tariffs``) and the meter or group each applies to."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response

from energy_forecast.api.cost_schemas import EXAMPLE_TARIFF, TariffSubject
from energy_forecast.api.deps import SeriesStoreDep, TaskQueueDep
from energy_forecast.errors import NotFoundError
from energy_forecast.services.tariffs import (
    TARIFF_ID_PATTERN,
    attach,
    delete_tariff,
    detach,
    get_tariff,
    list_tariffs,
    put_tariff,
    subject_key,
)
from energy_forecast.storage.base import SeriesStore
from energy_forecast.tasks.queue import redis_errors

router = APIRouter(prefix="/tariffs", tags=["peaks and cost"])
TariffIdPath = Annotated[str, Path(pattern=TARIFF_ID_PATTERN, description="tariff id")]


@router.get("/")
def tariffs(queue: TaskQueueDep) -> dict[str, Any]:
    """Every stored tariff with the meters and groups it is attached to."""
    with redis_errors("read tariffs"):
        found = list_tariffs(queue.client)
    return {"count": len(found), "tariffs": found}


@router.put(
    "/{tariff_id}",
    responses={
        200: {"description": "the tariff was replaced"},
        201: {"description": "a new tariff was stored"},
    },
)
def store_tariff(
    tariff_id: TariffIdPath,
    queue: TaskQueueDep,
    response: Response,
    body: Annotated[dict[str, Any], Body(examples=[EXAMPLE_TARIFF])],
) -> dict[str, Any]:
    """Create or replace a tariff (201 when new); validation says which field to fix."""
    with redis_errors("store the tariff"):
        record, created = put_tariff(queue.client, tariff_id, body)
    response.status_code = 201 if created else 200
    return record


@router.get("/{tariff_id}")
def show_tariff(tariff_id: TariffIdPath, queue: TaskQueueDep) -> dict[str, Any]:
    with redis_errors("read the tariff"):
        return get_tariff(queue.client, tariff_id)


@router.delete("/{tariff_id}", status_code=204)
def remove_tariff(tariff_id: TariffIdPath, queue: TaskQueueDep) -> Response:
    """Delete a tariff no meter or group uses (409 while attached)."""
    with redis_errors("delete the tariff"):
        delete_tariff(queue.client, tariff_id)
    return Response(status_code=204)


def _key(body: TariffSubject, store: SeriesStore) -> str:
    if body.meter_id is not None:
        meter = store.get_meter(body.meter_id)
        if meter is None or meter.meter_type != body.meter_type:
            raise NotFoundError(
                f"no {body.meter_type} meter {body.meter_id!r}; check meter_id and meter_type"
            )
        return subject_key("meter", body.meter_id, meter.meter_type.value)
    return subject_key("group", str(body.group_id))


@router.put("/{tariff_id}/attach")
def attach_tariff(
    tariff_id: TariffIdPath, body: TariffSubject, queue: TaskQueueDep, store: SeriesStoreDep
) -> dict[str, Any]:
    """Make this the tariff of a meter or group (replacing its previous one); POST /cost/ without a
    tariff then uses it, and the dashboard shows its cost forecast."""
    key = _key(body, store)
    with redis_errors("attach the tariff"):
        attach(queue.client, tariff_id, key)
        return get_tariff(queue.client, tariff_id)


@router.delete("/{tariff_id}/attach")
def detach_tariff(
    tariff_id: TariffIdPath, body: TariffSubject, queue: TaskQueueDep, store: SeriesStoreDep
) -> dict[str, Any]:
    """The meter or group no longer uses this tariff."""
    key = _key(body, store)
    with redis_errors("detach the tariff"):
        detach(queue.client, tariff_id, key)
        return get_tariff(queue.client, tariff_id)
