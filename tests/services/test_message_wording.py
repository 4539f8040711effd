"""Error messages read as sentences: no numpy reprs, no pandas parser jargon, the right article."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.errors import InputDataError, NotFoundError
from energy_forecast.services import csv_formats as fmt
from energy_forecast.services.forecasting import forecast_meter
from energy_forecast.services.ingestion import read_csv
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore


def test_a_negative_reading_is_shown_as_a_plain_number() -> None:
    raw = pd.Series(["1.5", "-3.2"])

    with pytest.raises(InputDataError) as caught:
        fmt.parse_values(raw, "electricity.csv", column="consumption", allow_negative=False)

    assert "consumption -3.2 is negative" in caught.value.message
    assert "np.float64" not in caught.value.message


def test_an_absurd_temperature_is_shown_as_a_plain_number() -> None:
    with pytest.raises(InputDataError) as caught:
        fmt.check_temperature_bounds(pd.Series([12.0, 99.5]), "temperature.csv")

    assert "temperature 99.5 °C is outside" in caught.value.message
    assert "np.float64" not in caught.value.message


def test_a_ragged_csv_names_the_line_without_pandas_words() -> None:
    text = "timestamp,meter_id,consumption\n2024-01-01T00:00:00Z,m1,1\n2024-01-01T01:00:00Z,m1,1,7\n"

    with pytest.raises(InputDataError) as caught:
        read_csv(text, "electricity.csv")

    message = caught.value.message
    assert "line 3 has 4 fields where the header has 3" in message
    assert "C error" not in message and "tokenizing" not in message


@pytest.mark.parametrize(
    ("registered", "asked", "fragment"),
    [
        (MeterType.ELECTRICITY, MeterType.WATER, "is an electricity meter, not water"),
        (MeterType.WATER, MeterType.ELECTRICITY, "is a water meter, not electricity"),
    ],
)
def test_a_meter_of_the_other_type_gets_the_right_article(
    tmp_path: Path, registered: MeterType, asked: MeterType, fragment: str
) -> None:
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    try:
        store.upsert_meters([Meter("m1", registered, "s1")])
        with pytest.raises(NotFoundError) as caught:
            forecast_meter(
                store,
                FileModelStore(tmp_path / "models"),
                meter_id="m1",
                meter_type=asked,
                start=pd.Timestamp("2024-01-01T00:00Z"),
                end=pd.Timestamp("2024-01-01T05:00Z"),
            )
    finally:
        store.close()

    assert fragment in caught.value.message


def test_training_an_unknown_meter_names_it_and_says_how_to_import_it(tmp_path: Path) -> None:
    from energy_forecast.errors import ErrorType, NoDataFoundError
    from energy_forecast.services.meters import registered_meter

    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    try:
        store.upsert_meters([Meter("w1", MeterType.WATER, "s1")])
        with pytest.raises(NoDataFoundError) as unknown:
            registered_meter(store, "ghost", MeterType.ELECTRICITY)
        with pytest.raises(NoDataFoundError) as other_type:
            registered_meter(store, "w1", MeterType.ELECTRICITY)
    finally:
        store.close()

    assert unknown.value.error_type is ErrorType.NO_DATA_FOUND  # the seed's classification is kept
    assert "no electricity meter 'ghost' is registered" in unknown.value.message
    assert "energy-forecast import --data-dir" in unknown.value.message
    assert "/meters/electricity/ghost/readings" in unknown.value.message
    assert "registered as a water meter" in other_type.value.message
