"""The end-of-import summary: closest ids, and a readable length at fleet size."""

from __future__ import annotations

from energy_forecast.services.import_warnings import ImportWarning, closest, summary_lines


def test_the_closest_listed_id_is_found_by_case_then_similarity() -> None:
    assert closest("bldg_01", ["Bldg_01", "bldg_02"]) == "Bldg_01"
    assert closest("tetuan_zone1", ["tetouan_zone1", "polito_bldg01"]) == "tetouan_zone1"
    assert closest("zzz", ["tetouan_zone1"]) is None


def test_many_warnings_of_one_kind_are_cut_to_a_few_and_a_count() -> None:
    warnings = [ImportWarning("aggregated", f"m{i}", f"m{i} summed") for i in range(12)]
    warnings.append(ImportWarning("no_temperature", "s1", "s1 has none"))

    lines = summary_lines(warnings, per_code=3)

    assert lines == [
        "m0 summed",
        "m1 summed",
        "m2 summed",
        "... and 9 more aggregated warnings (for other meters or sites)",
        "s1 has none",
    ]
