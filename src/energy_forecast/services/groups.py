"""Define, list and remove groups of meters, checked against the whole registry before any write.

The groups live in the ``SeriesStore`` beside the meter registry they refer to: it is the
service every API process, worker and host already shares (DuckDB on one machine, InfluxDB
across machines), so a group defined on one host is seen by all, and a check against the meter
registry reads the same store the write goes to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from energy_forecast.domain.groups import (
    Group,
    check_groups,
    groups_from_meters,
    members,
    parents,
    split_ids,
)
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.errors import ConflictError, InputDataError, NotFoundError
from energy_forecast.storage.base import SeriesStore


@dataclass(frozen=True)
class GroupView:
    """A group with the meters it reaches (``members``), for listings and forecasts."""

    group: Group
    members: tuple[str, ...]


def _registry(store: SeriesStore) -> tuple[dict[str, Group], dict[str, Meter]]:
    return {g.group_id: g for g in store.list_groups()}, {m.meter_id: m for m in store.list_meters()}


def put_group(
    store: SeriesStore,
    group_id: str,
    meter_type: MeterType,
    meter_ids: Iterable[str] = (),
    groups: Iterable[str] = (),
    description: str = "",
) -> tuple[GroupView, bool]:
    """Create or replace a group; (its view, whether it was created).

    Raises:
        InvalidIdentifierError, InputDataError: a bad id, no members, an unknown meter or group,
            a member of another type, a cycle; nothing is written then.
    """
    group = Group(group_id, MeterType(meter_type), tuple(meter_ids), tuple(groups), "api", description)
    if group.group_id in group.groups:
        raise InputDataError(f"group {group_id!r} cannot contain itself")
    existing, meters = _registry(store)
    created = group_id not in existing
    if not created and existing[group_id].meter_type != group.meter_type:
        users = parents(group_id, existing.values())
        if users:
            raise ConflictError(
                f"group {group_id!r} is {existing[group_id].meter_type.value} and used by "
                f"{', '.join(users)}; remove it from them before changing its type"
            )
    check_groups({**existing, group_id: group}, meters)
    store.put_groups([group])
    return GroupView(group, tuple(members(group_id, {**existing, group_id: group}))), created


def get_group(store: SeriesStore, group_id: str) -> GroupView:
    """Raises: NotFoundError for an unknown group."""
    existing = {g.group_id: g for g in store.list_groups()}
    if group_id not in existing:
        raise NotFoundError(f"group {group_id!r} does not exist; define it with PUT /groups/{group_id}")
    return GroupView(existing[group_id], tuple(members(group_id, existing)))


def list_groups(store: SeriesStore, meter_type: MeterType | None = None) -> list[GroupView]:
    existing = {g.group_id: g for g in store.list_groups()}
    return [
        GroupView(g, tuple(members(g.group_id, existing)))
        for g in existing.values()
        if meter_type is None or g.meter_type == MeterType(meter_type)
    ]


def delete_group(store: SeriesStore, group_id: str) -> None:
    """Raises: NotFoundError (unknown), ConflictError (another group contains it)."""
    existing = {g.group_id: g for g in store.list_groups()}
    if group_id not in existing:
        raise NotFoundError(f"group {group_id!r} does not exist")
    users = parents(group_id, existing.values())
    if users:
        raise ConflictError(f"group {group_id!r} is part of {', '.join(users)}; remove it from them first")
    store.delete_group(group_id)


def refuse_group_ids(store: SeriesStore, meter_ids: Iterable[str]) -> None:
    """Refuse new meters whose id is already a group's: a group's forecasts are stored under its id,
    beside the meters', so the two would overwrite each other.

    Raises: ConflictError naming the first such id.
    """
    taken = sorted(set(meter_ids) & {g.group_id for g in store.list_groups()})
    if taken:
        raise ConflictError(
            f"meter id {taken[0]!r} is already a group's id; give the meter another id "
            f"(or delete the group first: DELETE /groups/{taken[0]})"
        )


def meters_csv_groups(frame: pd.DataFrame, meters: dict[str, Meter]) -> list[tuple[Meter, tuple[str, ...]]]:
    """Each ``meters.csv`` meter with the group ids of its ``groups`` cell (none without the column)."""
    cells = frame["groups"].tolist() if "groups" in frame.columns else [""] * len(frame)
    ids = [str(m).strip() for m in frame["meter_id"].tolist()]
    return [(meters[m], split_ids(cell)) for m, cell in zip(ids, cells, strict=True) if m in meters]


def plan_import_groups(store: SeriesStore, rows: Iterable[tuple[Meter, tuple[str, ...]]]) -> list[Group]:
    """Groups of an import (site groups, ``meters.csv``'s ``groups`` column), merged with existing.

    Checked before the import writes anything, against the registry plus the imported meters; a
    group that exists keeps its members and gains the imported ones. The caller writes the result
    with ``store.put_groups`` once the meters are in.

    Raises: InputDataError for a named group that would mix types or is not a slug.
    """
    rows = list(rows)
    found = groups_from_meters(rows)
    if not found:
        return []
    existing, meters = _registry(store)
    meters.update({meter.meter_id: meter for meter, _ in rows})
    merged = {}
    for gid, group in found.items():
        old = existing.get(gid)
        if old is not None and old.meter_type != group.meter_type:
            raise InputDataError(
                f"group {gid!r} is {old.meter_type.value}; the import adds {group.meter_type.value} "
                "meters to it. Use another group id"
            )
        merged[gid] = old.merged(group) if old is not None else group
    check_groups({**existing, **merged}, meters)
    return [merged[k] for k in sorted(merged)]
