"""``energy-forecast groups``: list the groups of meters, or show one with the meters it reaches."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from energy_forecast.cli.common import connected, settings
from energy_forecast.domain.meters import MeterType


def _row(view: Any) -> dict[str, Any]:
    group = view.group
    return {
        "group_id": group.group_id,
        "meter_type": group.meter_type.value,
        "meter_ids": list(group.meter_ids),
        "groups": list(group.groups),
        "members": list(view.members),
        "member_count": len(view.members),
        "source": group.source,
        "description": group.description,
    }


def groups(
    group_id: Annotated[str | None, typer.Argument(help="show this group (all groups without it)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    meter_type: Annotated[MeterType | None, typer.Option("--type")] = None,
) -> None:
    """List the groups of meters (site groups from the import, groups defined over HTTP), or show one.

    Define groups with ``PUT /groups/{id}`` or a ``groups`` column in meters.csv.
    """
    from energy_forecast.services import groups as service

    with connected(settings(file_log=False)) as home:
        if home.service is not None:
            if group_id is not None:
                rows = [home.service.get(f"/groups/{group_id}")]
            else:
                params = {"meter_type": meter_type.value} if meter_type else {}
                rows = list(home.service.get("/groups/", params=params))
        elif group_id is not None:
            rows = [_row(service.get_group(home.local_store(), group_id))]
        else:
            rows = [_row(v) for v in service.list_groups(home.local_store(), meter_type)]
    if as_json:
        typer.echo(json.dumps(rows[0] if group_id is not None else rows, indent=2))
        return
    if group_id is not None:
        row = rows[0]
        typer.echo(
            f"group {row['group_id']} ({row['meter_type']}, {row['source']}): {row['member_count']} meters"
        )
        if row["groups"]:
            typer.echo(f"  groups: {', '.join(row['groups'])}")
        for meter_id in row["members"]:
            typer.echo(f"  {meter_id}")
        return
    if not rows:
        typer.echo("no groups; define one with PUT /groups/{id} or a groups column in meters.csv")
        return
    typer.echo(f"{'group_id':<28} {'type':<12} {'source':<7} {'meters':>6}  sub-groups")
    for row in rows:
        typer.echo(
            f"{row['group_id']:<28} {row['meter_type']:<12} {row['source']:<7} {row['member_count']:>6}  "
            f"{', '.join(row['groups']) or '-'}"
        )
