"""Stepwise JSON decoding and validation agree with ``json.loads`` and pydantic, only in slices."""

from __future__ import annotations

import gc
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_forecast.api import json_body
from energy_forecast.api.json_body import (
    InvalidItemError,
    TooManyItemsError,
    loads_stepwise,
    paused_gc,
    release,
    validate_stepwise,
)
from energy_forecast.api.schemas import ReadingIn

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, derandomize=True, database=None)
@given(items=st.lists(JSON_VALUES, max_size=8), indent=st.sampled_from([None, 0, 2]), wrapped=st.booleans())
def test_stepwise_decoding_equals_json_loads(items: list[object], indent: int | None, wrapped: bool) -> None:
    document = {"readings": items} if wrapped else items
    text = json.dumps(document, indent=indent)

    assert loads_stepwise(text.encode()) == json.loads(text)


@pytest.mark.parametrize(
    "raw",
    [b"[1,2", b"[1 2]", b"[1]x", b"[,]", b"[1,]", b'{"readings": [1], "x"', b"[" * 5, b"\xff[1]"],
)
def test_broken_documents_fail_like_json_loads(raw: bytes) -> None:
    with pytest.raises(ValueError):
        json.loads(raw)
    with pytest.raises(ValueError):
        loads_stepwise(raw)


def test_other_shapes_and_extra_keys_are_decoded_whole() -> None:
    assert loads_stepwise(b'{"readings": [1], "site": "s1"}') == {"readings": [1], "site": "s1"}
    assert loads_stepwise(b'{"a": [1]}') == {"a": [1]}
    assert loads_stepwise(b"") is None
    assert math.isnan(loads_stepwise(b"[NaN]")[0])  # as json.loads: pydantic refuses it later


def test_decoding_stops_past_max_items() -> None:
    with pytest.raises(TooManyItemsError):
        loads_stepwise(b"[" + b"1," * 1_000_000 + b"1]", max_items=10)


def test_the_first_bad_item_is_named_by_its_index_in_the_whole_list() -> None:
    good = {"timestamp": "2024-01-01T00:00:00Z", "consumption": 1.0}
    payload = [good] * (json_body.SLICE * 2 + 7) + [{"timestamp": "x", "consumption": 1.0}, "also bad"]

    with pytest.raises(InvalidItemError) as raised:
        validate_stepwise(ReadingIn, payload)

    assert raised.value.loc == (json_body.SLICE * 2 + 7, "timestamp")
    assert len(validate_stepwise(ReadingIn, [good] * 3)) == 3
    with pytest.raises(InvalidItemError, match="valid list"):
        validate_stepwise(ReadingIn, "not a list")


def test_nested_pauses_restore_the_collector_once_the_last_ends() -> None:
    assert gc.isenabled()
    with paused_gc():
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    items = list(range(10_000))
    release(items)
    assert items == []
