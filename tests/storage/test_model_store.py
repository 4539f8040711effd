"""Model store contract, run against the file-system store and the S3 store on a real SeaweedFS.

Atomic versioned saves, an active pointer, rollback, save-without-activation (champion/challenger),
clear failures. File-only and S3-only behaviour follows the shared suite.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.exceptions
import pytest

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import ConflictError, InvalidIdentifierError, ModelNotFoundError, StorageError
from energy_forecast.storage.base import ModelStore
from energy_forecast.storage.model_store import FileModelStore
from energy_forecast.storage.s3_client import parse_store_url
from energy_forecast.storage.s3_model_store import S3ModelStore

ELEC = MeterType.ELECTRICITY


def s3_store(url: str, endpoint: str, **options: object) -> S3ModelStore:
    return S3ModelStore.from_url(url, endpoint_url=endpoint, **options)


@pytest.fixture(
    params=[
        pytest.param("file", id="file"),
        pytest.param("s3", id="s3", marks=pytest.mark.integration),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ModelStore]:
    if request.param == "file":
        yield FileModelStore(tmp_path / "models")
    else:
        yield s3_store(request.getfixturevalue("s3_store_url"), request.getfixturevalue("s3_endpoint"))


# the contract -----------------------------------------------------------------------------------
def test_each_save_is_a_new_active_version(store: ModelStore) -> None:
    first = store.save(ELEC, "m1", {"model.ubj": b"one"}, {"rmse": 1.0})
    second = store.save(ELEC, "m1", {"model.ubj": b"two", "spec.json": b"{}"}, {"rmse": 0.5})

    assert (first.version, second.version) == (1, 2)
    info, artifacts = store.load(ELEC, "m1")
    assert info.version == 2 and info.active
    assert artifacts == {"model.ubj": b"two", "spec.json": b"{}"}
    assert info.metadata["rmse"] == 0.5 and "saved_at" in info.metadata
    assert second.location == "electricity/m1/v0002"  # relative: no host path reaches a client
    assert [v.version for v in store.list_versions(ELEC, "m1")] == [1, 2]


def test_activate_rolls_back_and_load_by_version(store: ModelStore) -> None:
    store.save(ELEC, "m1", {"model.ubj": b"one"}, {})
    store.save(ELEC, "m1", {"model.ubj": b"two"}, {})

    store.activate(ELEC, "m1", 1)

    assert store.load(ELEC, "m1")[1] == {"model.ubj": b"one"}
    assert store.load(ELEC, "m1", 2)[1] == {"model.ubj": b"two"}
    assert [v.active for v in store.list_versions(ELEC, "m1")] == [True, False]
    assert store.get_version(ELEC, "m1").version == 1


def test_delete_version_removes_an_old_version_and_keeps_the_active_and_the_newest(
    store: ModelStore,
) -> None:
    for payload in (b"one", b"two", b"three", b"four"):
        store.save(ELEC, "m1", {"model.ubj": payload}, {"metrics": {}})
    store.activate(ELEC, "m1", 2)

    store.delete_version(ELEC, "m1", 1)
    store.delete_version(ELEC, "m1", 3)

    assert [v.version for v in store.list_versions(ELEC, "m1")] == [2, 4]
    for kept in (2, 4):  # the active one, and the newest (the next save would reuse its number)
        with pytest.raises(ConflictError):
            store.delete_version(ELEC, "m1", kept)
    with pytest.raises(ModelNotFoundError):
        store.delete_version(ELEC, "m1", 1)
    assert store.get_version(ELEC, "m1").version == 2
    assert store.save(ELEC, "m1", {"model.ubj": b"five"}, {}).version == 5
    assert store.load(ELEC, "m1", 4)[1] == {"model.ubj": b"four"}


def test_a_version_saved_without_activation_waits_for_activate(store: ModelStore) -> None:
    store.save(ELEC, "m1", {"model.ubj": b"champion"}, {"status": "champion"})

    challenger = store.save(
        ELEC, "m1", {"model.ubj": b"challenger"}, {"status": "challenger"}, activate=False
    )

    assert not challenger.active and challenger.version == 2
    assert store.load(ELEC, "m1")[1] == {"model.ubj": b"champion"}
    assert store.get_version(ELEC, "m1", 2).metadata["status"] == "challenger"
    promoted = store.activate(ELEC, "m1", 2)
    assert promoted.active and store.load(ELEC, "m1")[1] == {"model.ubj": b"challenger"}


def test_missing_models_and_versions_are_not_found(store: ModelStore) -> None:
    with pytest.raises(ModelNotFoundError):
        store.load(ELEC, "m1")
    assert store.list_versions(ELEC, "m1") == []
    store.save(ELEC, "m1", {"model.ubj": b"x"}, {})
    with pytest.raises(ModelNotFoundError, match="no model version 7"):
        store.activate(ELEC, "m1", 7)
    with pytest.raises(ModelNotFoundError, match="no model version 7"):
        store.load(ELEC, "m1", 7)


def test_list_models_returns_active_version_per_meter(store: ModelStore) -> None:
    store.save(ELEC, "a", {"model.ubj": b"x"}, {})
    store.save(MeterType.WATER, "b", {"model.ubj": b"y"}, {})
    store.save(ELEC, "c", {"model.ubj": b"z"}, {}, activate=False)  # no active version: not listed

    assert [(m.meter_type, m.meter_id, m.active) for m in store.list_models()] == [
        (ELEC, "a", True),
        (MeterType.WATER, "b", True),
    ]
    assert [m.meter_id for m in store.list_models(MeterType.WATER)] == ["b"]


def test_a_failed_write_leaves_no_partial_version(store: ModelStore) -> None:
    store.save(ELEC, "m1", {"model.ubj": b"good"}, {})

    class Unserialisable:
        def __str__(self) -> str:
            raise OSError(28, "No space left on device")

    with pytest.raises(StorageError, match="No space left"):
        store.save(ELEC, "m1", {"model.ubj": b"new"}, {"bad": Unserialisable()})

    assert [v.version for v in store.list_versions(ELEC, "m1")] == [1]
    assert store.load(ELEC, "m1")[1] == {"model.ubj": b"good"}


@pytest.mark.parametrize("name", ["../evil", ".hidden", "bundle.json", "a/b", ""])
def test_unsafe_artifact_names_are_refused(store: ModelStore, name: str) -> None:
    with pytest.raises(ValueError, match="invalid artifact name"):
        store.save(ELEC, "m1", {name: b"x"}, {})


def test_unsafe_meter_ids_are_refused(store: ModelStore) -> None:
    with pytest.raises(InvalidIdentifierError):
        store.save(ELEC, "../../etc", {"model.ubj": b"x"}, {})
    with pytest.raises(InvalidIdentifierError):
        store.get_version(ELEC, "a/b")


def test_ping_passes_on_a_writable_store(store: ModelStore) -> None:
    store.ping()


# file system only -------------------------------------------------------------------------------
@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_directory_fails_clearly_and_keeps_the_active_model(tmp_path: Path) -> None:
    store = FileModelStore(tmp_path)
    store.save(ELEC, "m1", {"model.ubj": b"good"}, {})
    meter_dir = store.meter_dir(ELEC, "m1")
    meter_dir.chmod(0o500)
    try:
        with pytest.raises(StorageError, match="cannot save model"):
            store.save(ELEC, "m1", {"model.ubj": b"new"}, {})
    finally:
        meter_dir.chmod(0o700)

    assert store.load(ELEC, "m1")[1] == {"model.ubj": b"good"}


def test_a_failed_file_write_leaves_no_temporary_directory(tmp_path: Path) -> None:
    store = FileModelStore(tmp_path)

    with pytest.raises(StorageError):
        store.save(ELEC, "m1", {"model.ubj": b"new"}, {"bad": _Unwritable()})

    assert list(store.meter_dir(ELEC, "m1").glob(".tmp-*")) == []


class _Unwritable:
    def __str__(self) -> str:
        raise OSError(28, "No space left on device")


def test_unsafe_meter_ids_never_reach_the_file_system(tmp_path: Path) -> None:
    with pytest.raises(InvalidIdentifierError):
        FileModelStore(tmp_path / "models").save(ELEC, "../../etc", {"model.ubj": b"x"}, {})

    assert not (tmp_path / "etc").exists()


def test_a_model_root_that_is_not_a_directory_fails_clearly(tmp_path: Path) -> None:
    root = tmp_path / "models"
    root.write_text("not a directory")

    with pytest.raises(StorageError, match="cannot save model"):
        FileModelStore(root).save(ELEC, "m1", {"model.ubj": b"x"}, {})
    with pytest.raises(StorageError, match="not writable"):
        FileModelStore(root).ping()


# S3 only ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("s3://models", ("models", ""), id="bucket-only"),
        pytest.param("s3://models/fleet/prod/", ("models", "fleet/prod"), id="with-prefix"),
    ],
)
def test_store_urls_name_a_bucket_and_a_prefix(url: str, expected: tuple[str, str]) -> None:
    assert parse_store_url(url) == expected


@pytest.mark.parametrize("url", ["s3:///prefix", "https://bucket/prefix", "bucket/prefix"])
def test_store_urls_without_a_bucket_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="s3://BUCKET/PREFIX"):
        parse_store_url(url)


@pytest.mark.integration
def test_the_s3_server_honours_conditional_writes(s3_endpoint: str, s3_store_url: str) -> None:
    """The store's correctness rests on these two answers (412 Precondition Failed)."""
    s3_store(s3_store_url, s3_endpoint).ping()  # creates the bucket
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket, prefix = parse_store_url(s3_store_url)
    key = f"{prefix}/probe"
    first = client.put_object(Bucket=bucket, Key=key, Body=b"1", IfNoneMatch="*")

    with pytest.raises(botocore.exceptions.ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=bucket, Key=key, Body=b"2", IfNoneMatch="*")
    client.put_object(Bucket=bucket, Key=key, Body=b"3", IfMatch=first["ETag"])
    with pytest.raises(botocore.exceptions.ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=bucket, Key=key, Body=b"4", IfMatch=first["ETag"])
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"3"


@pytest.mark.integration
def test_a_missing_bucket_is_created_when_allowed(s3_endpoint: str) -> None:
    url = f"s3://ef-test-created-{os.getpid()}-{id(s3_endpoint) % 10_000}/models"
    store = s3_store(url, s3_endpoint)

    store.save(ELEC, "m1", {"model.ubj": b"x"}, {})

    assert store.load(ELEC, "m1")[1] == {"model.ubj": b"x"}


@pytest.mark.integration
def test_a_missing_bucket_that_may_not_be_created_is_named_in_the_error(s3_endpoint: str) -> None:
    store = s3_store("s3://ef-test-never-created/models", s3_endpoint, create_bucket=False)

    with pytest.raises(StorageError, match="'ef-test-never-created' does not exist"):
        store.save(ELEC, "m1", {"model.ubj": b"x"}, {})


@pytest.mark.integration
def test_wrong_credentials_fail_clearly_without_showing_them(
    s3_endpoint: str, s3_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-123")

    with pytest.raises(StorageError, match="check the S3 credentials") as caught:
        s3_store(s3_store_url, s3_endpoint).ping()

    assert "not-the-secret-123" not in str(caught.value)


@pytest.mark.integration
def test_a_repeated_active_read_costs_at_most_one_not_modified_round_trip(
    s3_endpoint: str, s3_store_url: str
) -> None:
    store = s3_store(s3_store_url, s3_endpoint)
    store.save(ELEC, "m1", {"model.ubj": b"x"}, {})
    within_ttl, no_ttl = (
        s3_store(s3_store_url, s3_endpoint, pointer_ttl_s=60),  # no slow machine outlasts it
        s3_store(s3_store_url, s3_endpoint, pointer_ttl_s=0),
    )
    calls: dict[str, list[int]] = {"ttl": [], "none": []}
    for name, host in (("ttl", within_ttl), ("none", no_ttl)):
        host.get_version(ELEC, "m1")
        host._call().meta.events.register(
            "after-call.s3",
            lambda http_response, name=name, **_: calls[name].append(http_response.status_code),
        )

    assert within_ttl.get_version(ELEC, "m1").version == 1 and no_ttl.get_version(ELEC, "m1").version == 1

    assert calls == {"ttl": [], "none": [304]}
    store.save(ELEC, "m1", {"model.ubj": b"y"}, {})  # another host moves the pointer
    assert no_ttl.get_version(ELEC, "m1").version == 2
