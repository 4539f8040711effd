"""Groups of meters: define (PUT), list, show and remove them.

A group's forecast is ``POST /forecast/`` with ``group_id``; its backtest ``POST /backtest/``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from energy_forecast.api.deps import SeriesStoreDep
from energy_forecast.domain.meters import SLUG_PATTERN, MeterType
from energy_forecast.services import groups as service

router = APIRouter(prefix="/groups", tags=["groups"])
GroupIdPath = Annotated[str, Path(pattern=SLUG_PATTERN, description="group id (slug)")]


class GroupIn(BaseModel):
    """A group's members: meters, other groups of the same type, or both."""

    # At least one member, stated in the schema so clients know it before the service says it.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"minItems": 1}}}
                for name in ("meter_ids", "groups")
            ]
        },
    )

    meter_type: MeterType
    meter_ids: list[Annotated[str, Field(pattern=SLUG_PATTERN)]] = Field(
        default_factory=list, max_length=10_000
    )
    groups: list[Annotated[str, Field(pattern=SLUG_PATTERN)]] = Field(default_factory=list, max_length=1_000)
    description: str = Field(default="", max_length=500, pattern=r"^[^\r\n]*$")


class GroupPublic(BaseModel):
    group_id: str
    meter_type: MeterType
    meter_ids: list[str]
    groups: list[str]
    members: list[str] = Field(description="every meter the group reaches, its sub-groups' included")
    member_count: int
    source: str = Field(description="'api' (PUT /groups/) or 'import' (meters.csv: site, groups column)")
    description: str


def _public(view: service.GroupView) -> GroupPublic:
    group = view.group
    return GroupPublic(
        group_id=group.group_id,
        meter_type=group.meter_type,
        meter_ids=list(group.meter_ids),
        groups=list(group.groups),
        members=list(view.members),
        member_count=len(view.members),
        source=group.source,
        description=group.description,
    )


@router.get("/", response_model=list[GroupPublic])
def list_groups(store: SeriesStoreDep, meter_type: MeterType | None = None) -> list[GroupPublic]:
    """Every group (of one type with ``meter_type``), sorted by id, with the meters it reaches."""
    return [_public(v) for v in service.list_groups(store, meter_type)]


@router.get("/{group_id}", response_model=GroupPublic)
def get_group(group_id: GroupIdPath, store: SeriesStoreDep) -> GroupPublic:
    return _public(service.get_group(store, group_id))


@router.put(
    "/{group_id}",
    response_model=GroupPublic,
    responses={200: {"description": "replaced"}, 201: {"description": "created", "model": GroupPublic}},
)
def put_group(group_id: GroupIdPath, body: GroupIn, store: SeriesStoreDep, response: Response) -> GroupPublic:
    """Create (201) or replace (200) a group. Every meter must be registered with the group's type,
    every sub-group must exist with that type, and groups may not form a cycle (400 otherwise)."""
    view, created = service.put_group(
        store, group_id, body.meter_type, body.meter_ids, body.groups, body.description
    )
    response.status_code = 201 if created else 200
    return _public(view)


@router.delete("/{group_id}", status_code=204)
def delete_group(group_id: GroupIdPath, store: SeriesStoreDep) -> Response:
    """Remove a group (404 when unknown, 409 while another group contains it); meters stay."""
    service.delete_group(store, group_id)
    return Response(status_code=204)
