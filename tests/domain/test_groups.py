"""Groups of meters: membership, checks and the groups an import makes (pure)."""

from __future__ import annotations

import pytest

from energy_forecast.domain.groups import Group, check_groups, groups_from_meters, members, split_ids
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.errors import InputDataError, InvalidIdentifierError

ELEC, WATER = MeterType.ELECTRICITY, MeterType.WATER
METERS = {
    "a": Meter("a", ELEC, "s1"),
    "b": Meter("b", ELEC, "s1"),
    "c": Meter("c", ELEC, "s2"),
    "w": Meter("w", WATER, "s1"),
}


def test_members_are_reached_through_sub_groups_once_each() -> None:
    groups = {
        "left": Group("left", ELEC, ("a", "b")),
        "right": Group("right", ELEC, ("b", "c")),
        "all": Group("all", ELEC, ("a",), ("left", "right")),
    }
    check_groups(groups, METERS)
    assert members("all", groups) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"g": Group("g", ELEC, ("a", "nope"))}, "meter 'nope' is not registered"),
        ({"g": Group("g", ELEC, ("a", "w"))}, "meter 'w' is\nwater"),
        ({"g": Group("g", ELEC, (), ("missing",))}, "group 'missing' does not exist"),
        ({"g": Group("g", ELEC, ()), "h": Group("h", ELEC, ("a",))}, "has no members"),
        (
            {"g": Group("g", ELEC, ("a",), ("wg",)), "wg": Group("wg", WATER, ("w",))},
            "its group 'wg' is water",
        ),
        ({"a": Group("a", ELEC, ("b",))}, "group id 'a' is already a meter's id"),
        (
            {"x": Group("x", ELEC, ("a",), ("y",)), "y": Group("y", ELEC, ("b",), ("x",))},
            "cycle (x -> y -> x)",
        ),
    ],
)
def test_a_broken_registry_is_refused_with_what_to_fix(groups: dict[str, Group], message: str) -> None:
    with pytest.raises(InputDataError) as caught:
        check_groups(groups, METERS)
    for part in message.split("\n"):
        assert part in caught.value.message


def test_a_bad_group_id_is_an_identifier_error() -> None:
    with pytest.raises(InvalidIdentifierError):
        Group("has space", ELEC, ("a",))


def test_an_import_makes_site_groups_per_type_and_the_named_groups() -> None:
    rows = [
        (METERS["a"], ("feeder-1",)),
        (METERS["b"], ()),
        (METERS["c"], ("feeder-1", "campus")),
        (METERS["w"], ()),
        (Meter("w2", WATER, "s1"), ()),
    ]
    found = groups_from_meters(rows)
    assert set(found) == {"site-s1-electricity", "site-s1-water", "feeder-1", "campus"}
    assert found["site-s1-electricity"].meter_ids == ("a", "b")
    assert found["feeder-1"].meter_ids == ("a", "c") and found["feeder-1"].source == "import"
    assert "site-s2" not in found  # one meter is no group


def test_a_named_group_of_two_types_is_refused_at_import() -> None:
    with pytest.raises(InputDataError, match="types electricity, water"):
        groups_from_meters([(METERS["a"], ("mixed",)), (METERS["w"], ("mixed",))])


def test_split_ids_reads_semicolon_cells() -> None:
    assert (
        split_ids(" a; b ;;c ") == ("a", "b", "c") and split_ids(float("nan")) == () and split_ids("") == ()
    )
