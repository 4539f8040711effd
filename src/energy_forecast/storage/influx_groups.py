"""Groups on InfluxDB: the ``group_registry`` measurement, one point per group at time 0.

Tag ``group_id``; string fields ``meter_type``, ``meter_ids`` and ``groups`` (``;``-joined ids:
ids are slugs, so they never contain ``;``), ``source`` and ``description``. Every field is
written on each upsert, so a replaced group keeps nothing of its old membership. Several groups
go in one POST (InfluxDB writes a request's points together or refuses it), and callers validate
the whole registry before writing, so an invalid request writes nothing.
"""

from __future__ import annotations

from energy_forecast.domain.groups import Group, split_ids, validate_group_id
from energy_forecast.domain.meters import MeterType
from energy_forecast.storage import influx_protocol as lp
from energy_forecast.storage.influx_client import InfluxHttp

GROUPS = "group_registry"


def group_line(group: Group) -> str:
    fields = [
        f"meter_type={lp.string_field(group.meter_type.value)}",
        f"meter_ids={lp.string_field(';'.join(group.meter_ids))}",
        f"groups={lp.string_field(';'.join(group.groups))}",
        f"source={lp.string_field(group.source)}",
        f"description={lp.string_field(group.description)}",
    ]
    return f"{GROUPS},group_id={lp.escape_key(group.group_id)} {','.join(fields)} 0"


class InfluxGroups:
    """The group methods of ``InfluxSeriesStore`` (a mixin: it needs ``self._http``)."""

    _http: InfluxHttp

    def put_groups(self, groups: list[Group]) -> None:
        if groups:
            self._http.write(iter([("\n".join(group_line(g) for g in groups), len(groups))]))

    def delete_group(self, group_id: str) -> None:
        where = lp.id_filter("group_id", [validate_group_id(group_id)])
        self._http.query([f"DELETE FROM {lp.ident(GROUPS)} WHERE {where}"])

    def get_group(self, group_id: str) -> Group | None:
        where = lp.id_filter("group_id", [validate_group_id(group_id)])
        found = self._select_groups(f"SELECT * FROM {lp.ident(GROUPS)} WHERE {where}")
        return found[0] if found else None

    def list_groups(self) -> list[Group]:
        return self._select_groups(f"SELECT * FROM {lp.ident(GROUPS)}")

    def _select_groups(self, statement: str) -> list[Group]:
        groups = {
            row["group_id"]: Group(
                row["group_id"],
                MeterType(row["meter_type"]),
                split_ids(row.get("meter_ids")),
                split_ids(row.get("groups")),
                row.get("source") or "api",
                row.get("description") or "",
            )
            for series in self._http.query([statement]).get(0, [])
            for row in series.rows()
        }
        return [groups[k] for k in sorted(groups)]
