"""Groups in both SeriesStore backends: written together, replaced whole, deleted, read back sorted."""

from __future__ import annotations

from energy_forecast.domain.groups import Group
from energy_forecast.domain.meters import MeterType
from energy_forecast.storage.base import SeriesStore

ELEC = MeterType.ELECTRICITY


def test_groups_round_trip_and_a_replacement_keeps_nothing_of_the_old_membership(
    series_store: SeriesStore,
) -> None:
    site = Group("site-s1", ELEC, ("m1", "m2"), source="import")
    campus = Group("campus", ELEC, ("m3",), ("site-s1",), description="north campus")
    series_store.put_groups([site, campus])

    assert [g.group_id for g in series_store.list_groups()] == ["campus", "site-s1"]
    assert series_store.get_group("campus") == campus
    assert series_store.get_group("campus").description == "north campus"  # type: ignore[union-attr]

    series_store.put_groups([Group("campus", ELEC, ("m1",))])
    replaced = series_store.get_group("campus")
    assert replaced is not None and replaced.meter_ids == ("m1",) and replaced.groups == ()

    series_store.delete_group("campus")
    assert series_store.get_group("campus") is None
    assert [g.group_id for g in series_store.list_groups()] == ["site-s1"]
