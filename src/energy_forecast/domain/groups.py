"""Groups: named sets of meters of one type (a site, a feeder, a portfolio), or sets of groups.

A group lists meters (``meter_ids``), other groups (``groups``), or both; its members are the
meters reached through them, each once. Every meter and sub-group has the group's type, a group
never reaches itself (no cycles), and ids are slugs like meter ids. ``check_groups`` validates a
whole registry at once, so a write that would leave any group broken is refused before anything
is stored.

A site's meters form the group ``site-<site_id>`` at import (``site_group_id``); ``meters.csv``
may name further groups per meter in a ``groups`` column (``;``-separated ids).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from energy_forecast.domain.meters import DEFAULT_SITE, Meter, MeterType, validate_slug
from energy_forecast.errors import InputDataError

SITE_PREFIX = "site-"
SOURCES = ("api", "import")


def validate_group_id(value: str) -> str:
    """Raises: InvalidIdentifierError (a 4xx) for an id that is not a slug."""
    return validate_slug(value, "group_id")


@dataclass(frozen=True)
class Group:
    """A named set of meters and/or groups of one ``meter_type``; ``source`` says who defined it."""

    group_id: str
    meter_type: MeterType
    meter_ids: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    source: str = "api"
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        validate_group_id(self.group_id)
        object.__setattr__(self, "meter_type", MeterType(self.meter_type))
        object.__setattr__(self, "meter_ids", tuple(dict.fromkeys(self.meter_ids)))
        object.__setattr__(self, "groups", tuple(dict.fromkeys(self.groups)))
        if self.source not in SOURCES:
            raise ValueError(f"source {self.source!r} is not one of {', '.join(SOURCES)}")

    def merged(self, other: Group) -> Group:
        """This group with ``other``'s members added (an import adding meters to a group)."""
        return Group(
            self.group_id,
            self.meter_type,
            (*self.meter_ids, *other.meter_ids),
            (*self.groups, *other.groups),
            self.source,
            self.description or other.description,
        )


def site_group_id(site_id: str, meter_type: MeterType, mixed: bool) -> str:
    """``site-<site_id>``; a site holding both types gets one group per type (``-<type>`` appended)."""
    return f"{SITE_PREFIX}{site_id}-{MeterType(meter_type).value}" if mixed else f"{SITE_PREFIX}{site_id}"


def split_ids(text: object) -> tuple[str, ...]:
    """Ids from a ``;``-separated cell (empty cells, NaN and blanks give none)."""
    if not isinstance(text, str):
        return ()
    return tuple(part.strip() for part in text.split(";") if part.strip())


def check_groups(groups: Mapping[str, Group], meters: Mapping[str, Meter]) -> None:
    """Every group's meters exist with its type, its sub-groups exist with its type, no cycles.

    Raises:
        InputDataError: naming the group and what to fix.
    """
    for group in groups.values():
        if group.group_id in meters:  # a group's forecasts are stored under its id, beside meters'
            raise InputDataError(
                f"group id {group.group_id!r} is already a meter's id; give the group another id"
            )
        for kind, member_ids, known, fix in (
            ("meter", group.meter_ids, meters, "is not registered; import it or drop it"),
            ("group", group.groups, groups, "does not exist; define it first"),
        ):
            for member_id in member_ids:
                member = known.get(member_id)
                if member is None:
                    raise InputDataError(f"group {group.group_id!r}: {kind} {member_id!r} {fix}")
                if member.meter_type != group.meter_type:
                    raise InputDataError(
                        f"group {group.group_id!r} is {group.meter_type.value}, but "
                        f"{'its group' if kind == 'group' else 'meter'} {member_id!r} is "
                        f"{member.meter_type.value}; a group holds {kind}s of one type"
                    )
        if not group.meter_ids and not group.groups:
            raise InputDataError(f"group {group.group_id!r} has no members; give meter_ids or groups")
    for group_id in groups:
        _walk(group_id, groups, ())


def _walk(group_id: str, groups: Mapping[str, Group], path: tuple[str, ...]) -> None:
    if group_id in path:
        cycle = " -> ".join((*path[path.index(group_id) :], group_id))
        raise InputDataError(f"groups form a cycle ({cycle}); a group cannot contain itself")
    for child in groups[group_id].groups:
        _walk(child, groups, (*path, group_id))


def members(group_id: str, groups: Mapping[str, Group]) -> list[str]:
    """The meters a group reaches (its own and its sub-groups'), each once, in first-seen order.

    Raises: KeyError for an unknown group (callers check existence first).
    """
    seen: dict[str, None] = {}
    stack = [group_id]
    visited: set[str] = set()
    while stack:
        current = stack.pop(0)
        if current in visited:
            continue
        visited.add(current)
        group = groups[current]
        seen.update(dict.fromkeys(group.meter_ids))
        stack.extend(group.groups)
    return list(seen)


def parents(group_id: str, groups: Iterable[Group]) -> list[str]:
    """Groups that list ``group_id`` as a sub-group (what a delete would break)."""
    return sorted(g.group_id for g in groups if group_id in g.groups)


def groups_from_meters(rows: Iterable[tuple[Meter, tuple[str, ...]]]) -> dict[str, Group]:
    """Import groups: one per named site with two or more meters of a type, plus the named ones.

    ``rows`` pairs each meter with the group ids its ``groups`` cell names. A named group whose
    meters are of two types is refused (``check_groups`` says so).
    """
    rows = list(rows)
    by_site: dict[str, dict[MeterType, list[str]]] = {}
    named: dict[str, list[Meter]] = {}
    for meter, names in rows:
        by_site.setdefault(meter.site_id, {}).setdefault(meter.meter_type, []).append(meter.meter_id)
        for name in names:
            named.setdefault(validate_group_id(name), []).append(meter)
    found: dict[str, Group] = {}
    for site_id, types in by_site.items():
        for meter_type, ids in types.items():
            if len(ids) >= 2 and site_id != DEFAULT_SITE:
                group_id = site_group_id(site_id, meter_type, mixed=len(types) > 1)
                found[group_id] = Group(group_id, meter_type, tuple(ids), source="import")
    for group_id, listed in named.items():
        kinds = {m.meter_type for m in listed}
        if len(kinds) > 1:
            raise InputDataError(
                f"group {group_id!r} lists meters of types {', '.join(sorted(k.value for k in kinds))}; "
                "a group holds meters of one type"
            )
        group = Group(group_id, listed[0].meter_type, tuple(m.meter_id for m in listed), source="import")
        found[group_id] = found[group_id].merged(group) if group_id in found else group
    return found
