"""POST /peaks/, POST /cost/ and stored tariffs against the real app (embedded Redis, DuckDB)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.services.training import train_meter
from energy_forecast.settings import load_settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore
from energy_forecast.storage.model_store import FileModelStore
from tests.conftest import hourly_series

ELEC = MeterType.ELECTRICITY
READINGS = hourly_series("2024-01-01", 24 * 70, seed=3)  # to 2024-03-10 23:00 UTC
TARIFF = {
    "currency": "GBP",
    "energy": [{"price": 0.30, "hours": "16-19", "days": ["weekday"]}, {"price": 0.15}],
    "demand_charge_per_kw": 10.0,
    "fixed_per_period": 40.0,
}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    home = Path(tempfile.mkdtemp(prefix="ef-"))  # short: the embedded Redis socket lives here
    settings = load_settings(home=home)
    store = DuckDBSeriesStore(settings.duckdb_path)
    store.upsert_meters([Meter("b1", ELEC, "s1", unit="kWh", timezone="Europe/London")])
    store.write_readings(ELEC, "b1", READINGS)
    store.write_temperature("s1", hourly_series("2024-01-01", 24 * 70, seed=2, base=10, name="temperature"))
    train_meter(store, FileModelStore(settings.models_dir), meter_id="b1", meter_type=ELEC)
    try:
        with TestClient(create_app(settings, store=store)) as test_client:
            yield test_client
    finally:
        store.close()
        shutil.rmtree(home, ignore_errors=True)


def test_monthly_peak_combines_the_month_so_far_with_the_forecast(client: TestClient) -> None:
    answer = client.post("/peaks/", json={"meter_id": "b1", "meter_type": "electricity", "period": "month"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    march = READINGS["2024-03-01":]
    assert body["threshold"]["value"] == pytest.approx(march.max())
    assert body["threshold"]["source"] == "month_to_date_peak"
    [month] = body["peaks"]
    assert month["period"] == "2024-03" and month["observed"]["hours"] == 240
    assert month["forecast_hours"] == 21 * 24 - 1  # to local midnight; the clocks go forward on 31 March
    q = month["quantiles"]
    assert march.max() <= q["p10"] <= q["p50"] <= q["p90"]
    assert sum(h["probability"] for h in month["hours"]) <= 1.0 + 1e-9
    assert len(body["days"]) == 21 and all(0 <= d["exceed_probability"] <= 1 for d in body["days"])
    assert body["model"] and body["scenarios"]["size"] == 200


def test_daily_peaks_with_a_given_threshold(client: TestClient) -> None:
    body = client.post(
        "/peaks/", json={"meter_id": "b1", "meter_type": "electricity", "period": "day", "threshold": 1e6}
    ).json()
    assert body["threshold"] == {"value": 1e6, "source": "given", "at": None}
    assert [p["period"] for p in body["peaks"]][:2] == ["2024-03-11", "2024-03-12"]
    assert len(body["peaks"]) == 7 and all(d["exceed_probability"] == 0 for d in body["days"])


def test_cost_of_the_month_with_an_inline_tariff(client: TestClient) -> None:
    answer = client.post("/cost/", json={"meter_id": "b1", "meter_type": "electricity", "tariff": TARIFF})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["period"] == "2024-03" and body["currency"] == "GBP" and body["tariff_id"] is None
    assert body["hours"] == {"period": 743, "observed": 240, "forecast": 503, "missing": 0}
    assert body["so_far"]["peak_demand_kw"] == pytest.approx(READINGS["2024-03-01":].max())
    assert body["components"]["fixed"]["p50"] == 40.0
    assert body["components"]["demand"]["p10"] >= 10.0 * body["so_far"]["peak_demand_kw"] - 1e-6
    total = body["total"]
    assert total["p10"] <= total["p50"] <= total["p90"] and total["p10"] > body["so_far"]["energy"]
    assert body["demand_hours"] and body["peak_demand_kw"]["p50"] > 0


def test_stored_tariff_attached_to_the_meter_prices_its_month(client: TestClient) -> None:
    assert client.put("/tariffs/tou", json=TARIFF).status_code == 201
    assert client.put("/tariffs/tou", json=TARIFF).status_code == 200
    listed = client.get("/tariffs/").json()
    assert [t["id"] for t in listed["tariffs"]] == ["tou"]
    no_tariff = client.post("/cost/", json={"meter_id": "b1", "meter_type": "electricity"})
    assert no_tariff.status_code == 422 and "no tariff attached" in no_tariff.text
    attached = client.put("/tariffs/tou/attach", json={"meter_id": "b1", "meter_type": "electricity"})
    assert attached.json()["attached_to"] == ["meter:electricity:b1"]
    body = client.post("/cost/", json={"meter_id": "b1", "meter_type": "electricity"}).json()
    assert body["tariff_id"] == "tou" and body["tariff"]["demand_charge_per_kw"] == 10.0
    assert client.delete("/tariffs/tou").status_code == 409
    client.request("DELETE", "/tariffs/tou/attach", json={"meter_id": "b1", "meter_type": "electricity"})
    assert client.delete("/tariffs/tou").status_code == 204
    assert client.get("/tariffs/tou").status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/peaks/", {"meter_id": "b1", "group_id": "g", "meter_type": "electricity"}, 422, "exactly one"),
        ("/peaks/", {"meter_type": "electricity"}, 422, "exactly one"),
        ("/peaks/", {"meter_id": "nope", "meter_type": "electricity"}, 404, "not registered"),
        ("/peaks/", {"meter_id": "b1", "meter_type": "water"}, 404, "not water"),
        ("/peaks/", {"meter_id": "b1", "meter_type": "electricity", "period": "week"}, 422, "period"),
        ("/cost/", {"meter_id": "b1", "meter_type": "electricity", "tariff": {}}, 422, "charges nothing"),
        (
            "/cost/",
            {"meter_id": "b1", "meter_type": "electricity", "tariff": TARIFF, "period": "2024-05"},
            422,
            "forecasts reach no further",
        ),
        ("/cost/", {"meter_id": "b1", "meter_type": "electricity", "tariff_id": "gone"}, 404, "PUT /tariffs"),
        ("/tariffs/x", {"energy": [{"price": 0.2, "hours": "7-23"}]}, 422, "price no hour at Monday 00:00"),
    ],
)
def test_bad_requests_say_what_to_fix(
    client: TestClient, path: str, body: dict[str, object], status: int, message: str
) -> None:
    answer = client.put(path, json=body) if path.startswith("/tariffs") else client.post(path, json=body)
    assert answer.status_code == status, answer.text
    assert message in answer.text


def test_a_past_month_is_costed_from_its_readings(client: TestClient) -> None:
    body = client.post(
        "/cost/", json={"meter_id": "b1", "meter_type": "electricity", "tariff": TARIFF, "period": "2024-02"}
    ).json()
    assert body["hours"]["forecast"] == 0 and body["hours"]["observed"] == 29 * 24
    assert body["total"]["p10"] == pytest.approx(body["total"]["p90"])


def test_meter_page_has_the_peak_and_cost_card(client: TestClient) -> None:
    page = client.get("/dashboard/meters/electricity/b1")
    assert page.status_code == 200
    assert 'id="peak-cost" data-meter-id="b1" data-meter-type="electricity"' in page.text
    assert 'id="cost-table"' in page.text
    script = client.get("/static/dashboard.js").text
    assert '"/peaks/"' in script and '"/cost/"' in script


def test_a_group_has_peaks_and_a_cost_from_its_joint_scenarios(client: TestClient) -> None:
    assert client.put(
        "/groups/site", json={"meter_type": "electricity", "meter_ids": ["b1"]}
    ).status_code in (200, 201)

    peaks = client.post("/peaks/", json={"group_id": "site", "meter_type": "electricity"}).json()

    assert peaks["group_id"] == "site" and peaks["model"] == "group"
    assert peaks["scenarios"]["members"] == 1 and peaks["timezone"] == "Europe/London"
    [month] = peaks["peaks"]
    assert month["period"] == "2024-03" and month["observed"]["peak"] == pytest.approx(
        READINGS["2024-03-01":].max()
    )
    assert client.put("/tariffs/site-tou", json=TARIFF).status_code == 201
    attached = client.put("/tariffs/site-tou/attach", json={"group_id": "site"}).json()
    assert attached["attached_to"] == ["group:site"]
    cost = client.post("/cost/", json={"group_id": "site", "meter_type": "electricity"})
    assert cost.status_code == 200, cost.text
    assert cost.json()["tariff_id"] == "site-tou" and cost.json()["hours"]["observed"] == 240
    wrong = client.post("/peaks/", json={"group_id": "site", "meter_type": "water"})
    assert wrong.status_code == 404 and "not water" in wrong.text
    assert client.post("/peaks/", json={"group_id": "nosuch", "meter_type": "water"}).status_code == 404


def test_group_page_has_the_peak_and_cost_card(client: TestClient) -> None:
    client.put("/groups/site", json={"meter_type": "electricity", "meter_ids": ["b1"]})
    page = client.get("/dashboard/groups/site")
    assert page.status_code == 200
    assert 'id="peak-cost" data-group-id="site" data-meter-type="electricity"' in page.text
