"""Groups over HTTP, from a meters.csv import and on the command line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from energy_forecast.api.app import create_app
from energy_forecast.cli import app as cli_app
from energy_forecast.domain.meters import Meter, MeterType
from energy_forecast.services.ingestion import import_directory
from energy_forecast.settings import Settings
from energy_forecast.storage.duckdb_store import DuckDBSeriesStore

ELEC, WATER = MeterType.ELECTRICITY, MeterType.WATER


@pytest.fixture
def client(settings_factory: Callable[..., Settings], tmp_path: Path) -> Iterator[TestClient]:
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    store.upsert_meters([Meter("a", ELEC, "s1"), Meter("b", ELEC, "s1"), Meter("w", WATER, "s1")])
    with TestClient(create_app(settings_factory(), store=store, start_tasks=False)) as test_client:
        yield test_client
    store.close()


def test_put_get_list_delete(client: TestClient) -> None:
    created = client.put("/groups/north", json={"meter_type": "electricity", "meter_ids": ["a", "b"]})
    assert created.status_code == 201, created.text
    assert created.json()["members"] == ["a", "b"] and created.json()["source"] == "api"
    parent = client.put("/groups/campus", json={"meter_type": "electricity", "groups": ["north"]})
    assert parent.status_code == 201 and parent.json()["member_count"] == 2

    replaced = client.put("/groups/north", json={"meter_type": "electricity", "meter_ids": ["a"]})
    assert replaced.status_code == 200
    assert client.get("/groups/campus").json()["members"] == ["a"]
    assert [g["group_id"] for g in client.get("/groups/").json()] == ["campus", "north"]

    in_use = client.delete("/groups/north")
    assert in_use.status_code == 409 and "part of campus" in in_use.text
    assert client.delete("/groups/campus").status_code == 204
    assert client.get("/groups/campus").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"meter_type": "electricity", "meter_ids": ["a", "ghost"]}, 422, "'ghost' is not registered"),
        ({"meter_type": "electricity", "meter_ids": ["a", "w"]}, 422, "a group holds meters of one type"),
        ({"meter_type": "electricity", "groups": ["nowhere"]}, 422, "does not exist"),
        ({"meter_type": "electricity"}, 422, "no members"),
        ({"meter_type": "electricity", "groups": ["g1"]}, 422, "cannot contain itself"),
        ({"meter_type": "gas", "meter_ids": ["a"]}, 422, "meter_type"),
    ],
)
def test_bad_groups_are_refused_and_nothing_is_written(
    client: TestClient, body: dict[str, object], status: int, says: str
) -> None:
    response = client.put("/groups/g1", json=body)
    assert response.status_code == status and says in response.text
    assert client.get("/groups/").json() == []


def test_a_cycle_through_another_group_is_refused(client: TestClient) -> None:
    client.put("/groups/x", json={"meter_type": "electricity", "meter_ids": ["a"]})
    client.put("/groups/y", json={"meter_type": "electricity", "groups": ["x"]})
    response = client.put("/groups/x", json={"meter_type": "electricity", "groups": ["y"]})
    assert response.status_code == 422 and "cycle" in response.text
    assert client.get("/groups/x").json()["meter_ids"] == ["a"]


def test_a_bad_group_id_is_a_4xx(client: TestClient) -> None:
    assert (
        client.put("/groups/bad id!", json={"meter_type": "electricity", "meter_ids": ["a"]}).status_code
        == 422
    )


def _data(tmp_path: Path, groups_column: str) -> Path:
    data = tmp_path / "data"
    data.mkdir(parents=True)
    (data / "meters.csv").write_text(
        "meter_id,meter_type,site_id,unit,groups\n"
        f"a,electricity,s1,kWh,{groups_column}\nb,electricity,s1,kWh,\nc,electricity,s2,kWh,feeder\n"
    )
    rows = [f"2024-01-01T{h:02d}:00:00Z,{m},{h + 1}" for m in "abc" for h in range(3)]
    (data / "electricity.csv").write_text("timestamp,meter_id,consumption\n" + "\n".join(rows) + "\n")
    return data


def test_an_import_makes_the_site_group_and_the_named_ones(tmp_path: Path) -> None:
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    import_directory(store, _data(tmp_path, "feeder;campus"))
    groups = {g.group_id: g for g in store.list_groups()}
    assert set(groups) == {"site-s1", "feeder", "campus"}
    assert groups["site-s1"].meter_ids == ("a", "b") and groups["feeder"].meter_ids == ("a", "c")
    import_directory(store, _data(tmp_path / "again", "feeder;campus"))  # idempotent
    assert store.get_group("feeder").meter_ids == ("a", "c")  # type: ignore[union-attr]
    store.close()


def test_an_import_with_a_bad_group_id_writes_nothing(tmp_path: Path) -> None:
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    with pytest.raises(Exception, match="group_id"):
        import_directory(store, _data(tmp_path, "bad id"))
    assert store.list_meters() == [] and store.list_groups() == []
    store.close()


def test_a_new_meter_cannot_take_a_groups_id_on_any_route(client: TestClient) -> None:
    assert (
        client.put("/groups/north", json={"meter_type": "electricity", "meter_ids": ["a"]}).status_code == 201
    )
    body = "timestamp,consumption\n2024-01-01T00:00:00Z,1.5\n"

    entry = client.put("/meters/electricity/north", json={"site_id": "s1"})
    readings = client.post(
        "/meters/electricity/north/readings", content=body, headers={"Content-Type": "text/csv"}
    )

    for answer in (entry, readings):
        assert answer.status_code == 409, answer.text
        assert "'north' is already a group's id" in answer.json()["detail"]
    assert "north" not in [m["meter_id"] for m in client.get("/meters/").json()]
    assert client.put("/meters/electricity/a", json={"site_id": "s1"}).status_code == 200  # not new: fine


def test_an_import_of_a_meter_named_like_a_group_writes_nothing(tmp_path: Path) -> None:
    store = DuckDBSeriesStore(tmp_path / "s.duckdb")
    import_directory(store, _data(tmp_path, "feeder"))
    data = tmp_path / "more"
    data.mkdir()
    (data / "meters.csv").write_text("meter_id,meter_type,site_id\nfeeder,electricity,s9\n")
    (data / "electricity.csv").write_text("timestamp,meter_id,consumption\n2024-01-01T00:00:00Z,feeder,1\n")
    with pytest.raises(Exception, match="already a group's id"):
        import_directory(store, data)
    assert "feeder" not in [m.meter_id for m in store.list_meters()]
    store.close()


def test_the_cli_lists_and_shows_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EF_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    assert runner.invoke(cli_app, ["import", "--data-dir", str(_data(tmp_path, "feeder"))]).exit_code == 0
    listed = runner.invoke(cli_app, ["groups"])
    assert listed.exit_code == 0 and "site-s1" in listed.output and "feeder" in listed.output
    shown = runner.invoke(cli_app, ["groups", "feeder", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["members"] == ["a", "c"]
    missing = runner.invoke(cli_app, ["groups", "nowhere"])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_the_dashboard_lists_groups_and_shows_a_group_page(client: TestClient) -> None:
    client.put(
        "/groups/north", json={"meter_type": "electricity", "meter_ids": ["a", "b"], "description": "N"}
    )
    fleet = client.get("/")
    assert fleet.status_code == 200 and 'href="/dashboard/groups/north"' in fleet.text
    page = client.get("/dashboard/groups/north")
    assert page.status_code == 200
    assert '"group_id": "north"' in page.text and 'href="/dashboard/meters/electricity/a"' in page.text
    assert client.get("/dashboard/groups/nowhere").status_code == 404
