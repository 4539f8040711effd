"""``POST /import/``: the CLI's import over HTTP (multipart or zip), all or nothing, idempotent, jobs."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from energy_forecast.api.app import create_app
from energy_forecast.api.limits import LARGE_BODY_BYTES
from energy_forecast.api.routes import bulk_import
from energy_forecast.settings import Settings

METERS = "meter_id,meter_type,site_id,unit\ne1,electricity,s1,kWh\nw1,water,s1,m3\n"
ELECTRICITY = "timestamp,meter_id,consumption\n" + "".join(
    f"2024-01-01T{h:02d}:00:00Z,{m},{h + 1}\n" for m in ("e1", "e2") for h in range(24)
)
WATER = "timestamp,meter_id,consumption\n" + "".join(
    f"2024-01-01T{h:02d}:00:00Z,w1,{h / 2}\n" for h in range(24)
)
TEMPERATURE = "timestamp,site_id,temperature_c\n" + "".join(
    f"2024-01-01T{h:02d}:00:00Z,s1,{h / 3:.2f}\n" for h in range(24)
)
FILES = {
    "meters.csv": METERS,
    "electricity.csv": ELECTRICITY,
    "water.csv": WATER,
    "temperature.csv": TEMPERATURE,
}


@pytest.fixture
def client(settings_factory: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(settings_factory(), start_tasks=False)) as test_client:
        yield test_client


def multipart(files: dict[str, str]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, text.encode(), "text/csv")) for name, text in files.items()]


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def stored(client: TestClient) -> dict[str, int]:
    return {m["meter_id"]: m["reading_count"] for m in client.get("/meters/").json()}


def test_meters_readings_of_many_meters_and_temperatures_import_in_one_request(client: TestClient) -> None:
    response = client.post("/import/", files=multipart(FILES))

    assert response.status_code == 201, response.text
    report = response.json()
    assert report["files"] == ["meters.csv", "electricity.csv", "water.csv", "temperature.csv"]
    assert report["readings_written"] == {"e1": 24, "e2": 24, "w1": 24}
    assert report["total_readings"] == 72 and report["temperature_written"] == {"s1": 24}
    assert report["meters_registered"] == 3 and report["ignored_files"] == []
    assert stored(client) == {"e1": 24, "e2": 24, "w1": 24}
    meters = {m["meter_id"]: m for m in client.get("/meters/").json()}
    assert meters["w1"]["unit"] == "m3" and meters["e1"]["site_id"] == "s1"
    # e2 is not in meters.csv: registered on the default site, as the CLI does
    assert [s["site_id"] for s in client.get("/location/").json()] == ["default", "s1"]


def test_a_bad_row_in_any_file_writes_nothing_and_names_file_and_row(client: TestClient) -> None:
    bad_water = WATER.replace("2024-01-01T05:00:00Z,w1,2.5", "2024-01-01T05:00:00Z,w1,lots")

    response = client.post("/import/", files=multipart({**FILES, "water.csv": bad_water}))

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["source"] == "water.csv" and body["row"] == 7 and "lots" in body["detail"]
    assert client.get("/meters/").json() == []
    assert client.get("/location/").json() == []


def test_importing_the_same_files_again_changes_nothing(client: TestClient) -> None:
    first = client.post("/import/", content=zipped(FILES), headers={"content-type": "application/zip"})
    before = client.get("/meters/electricity/e1/readings").json()
    second = client.post("/import/", content=zipped(FILES), headers={"content-type": "application/zip"})

    assert first.status_code == second.status_code == 201
    # What was written is the same; the warnings may differ (the second time the meters are known).
    assert {**first.json(), "warnings": None} == {**second.json(), "warnings": None}
    assert stored(client) == {"e1": 24, "e2": 24, "w1": 24}
    assert client.get("/meters/electricity/e1/readings").json() == before


def test_a_zip_in_a_multipart_upload_is_unpacked_and_names_cannot_escape(client: TestClient) -> None:
    archive = zipped(
        {"export/../../../meters.csv": METERS, "export/electricity.csv": ELECTRICITY, "notes.txt": "hello"}
    )

    response = client.post("/import/", files=[("bundle", ("data.zip", archive, "application/zip"))])

    assert response.status_code == 201, response.text
    assert response.json()["files"] == ["meters.csv", "electricity.csv"]
    assert response.json()["ignored_files"] == ["notes.txt"]


def test_the_seed_layout_is_accepted_as_the_cli_accepts_it(client: TestClient) -> None:
    seed = "DateTime,Consumption\n" + "".join(f"2024-01-01 {h:02d}:00:00,{h}\n" for h in range(24))

    response = client.post(
        "/import/",
        content=zipped({"initial_datasets/Water_Consumption.csv": seed}),
        headers={"content-type": "application/zip"},
    )

    assert response.status_code == 201, response.text
    assert response.json()["readings_written"] == {"water_meter": 24}


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"files": [("files", ("notes.txt", b"x", "text/plain"))]}, "no CSV file in the upload"),
        ({"content": b"not a zip", "headers": {"content-type": "application/zip"}}, "not a readable zip"),
        ({"content": b"a,b\n1,2\n", "headers": {"content-type": "text/csv"}}, "unsupported content type"),
        (
            {"files": [("f", ("meters.csv", b"x", "text/csv")), ("g", ("meters.csv", b"y", "text/csv"))]},
            "twice",
        ),
        ({"files": [("files", ("other.csv", b"a,b\n1,2\n", "text/csv"))]}, "no known files in the upload:"),
    ],
)
def test_uploads_that_cannot_be_imported_say_what_to_send(
    client: TestClient, kwargs: dict[str, object], fragment: str
) -> None:
    response = client.post("/import/", **kwargs)  # type: ignore[arg-type]

    assert response.status_code == 422, response.text
    assert fragment in response.json()["detail"]
    assert client.get("/meters/").json() == []


def test_a_large_upload_runs_as_a_job_whose_progress_and_report_can_be_read(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_import, "SYNC_IMPORT_BYTES", 100)

    accepted = client.post("/import/", files=multipart(FILES))

    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert accepted.headers["location"] == f"/import/{job['job_id']}"
    assert job["state"] in {"PENDING", "RUNNING", "SUCCESS"} and job["files"] == list(FILES)
    deadline = time.monotonic() + 30
    while job["state"] not in {"SUCCESS", "FAILURE"}:
        assert time.monotonic() < deadline
        time.sleep(0.05)
        job = client.get(f"/import/{job['job_id']}").json()
    assert job["state"] == "SUCCESS" and job["progress"] == 100
    assert job["report"]["readings_written"] == {"e1": 24, "e2": 24, "w1": 24}


def test_a_failing_job_keeps_the_error_and_writes_nothing(client: TestClient) -> None:
    bad = ELECTRICITY.replace(",e2,3\n", ",e2,-\n")

    accepted = client.post("/import/?wait=false", files=multipart({"electricity.csv": bad}))

    assert accepted.status_code == 202
    job_id = accepted.json()["job_id"]
    deadline = time.monotonic() + 30
    while (job := client.get(f"/import/{job_id}").json())["state"] not in {"SUCCESS", "FAILURE"}:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert job["state"] == "FAILURE"
    assert job["error"]["source"] == "electricity.csv" and job["error"]["row"] == 28
    assert client.get("/meters/").json() == []
    assert client.get("/import/" + "0" * 32).status_code == 404


def test_the_import_route_has_a_larger_body_limit_than_other_routes(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(max_body_bytes=1024 * 1024)
    with TestClient(create_app(settings, start_tasks=False)) as small:
        refused = small.post(
            "/meters/electricity/e1/readings",
            content=b"x" * (2 * 1024 * 1024),
            headers={"content-type": "text/csv"},
        )
        declared = small.post(
            "/import/",
            content=b"",
            headers={"content-type": "application/zip", "content-length": str(LARGE_BODY_BYTES + 1)},
        )
        accepted = small.post("/import/", files=multipart({"water.csv": WATER + "\n" * (2 * 1024 * 1024)}))

    assert refused.status_code == 413
    assert declared.status_code == 413 and "the limit of /import/" in declared.json()["detail"]
    assert accepted.status_code == 201, accepted.text
