"""File model store: atomic versioned saves, an active pointer, rollback, clear failures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import InvalidIdentifierError, ModelNotFoundError, StorageError
from energy_forecast.storage.model_store import FileModelStore

ELEC = MeterType.ELECTRICITY


def test_each_save_is_a_new_active_version(tmp_path: Path) -> None:
    store = FileModelStore(tmp_path / "models")

    first = store.save(ELEC, "m1", {"model.ubj": b"one"}, {"rmse": 1.0})
    second = store.save(ELEC, "m1", {"model.ubj": b"two"}, {"rmse": 0.5})

    assert (first.version, second.version) == (1, 2)
    info, artifacts = store.load(ELEC, "m1")
    assert info.version == 2 and info.active
    assert artifacts == {"model.ubj": b"two"}
    assert info.metadata["rmse"] == 0.5 and "saved_at" in info.metadata
    assert second.path == tmp_path / "models" / "electricity" / "m1" / "v0002"
    assert [v.version for v in store.list_versions(ELEC, "m1")] == [1, 2]


def test_activate_rolls_back_and_load_by_version(tmp_path: Path) -> None:
    store = FileModelStore(tmp_path)
    store.save(ELEC, "m1", {"model.ubj": b"one"}, {})
    store.save(ELEC, "m1", {"model.ubj": b"two"}, {})

    store.activate(ELEC, "m1", 1)

    assert store.load(ELEC, "m1")[1] == {"model.ubj": b"one"}
    assert store.load(ELEC, "m1", 2)[1] == {"model.ubj": b"two"}
    assert [v.active for v in store.list_versions(ELEC, "m1")] == [True, False]


def test_missing_models_and_versions_are_not_found(tmp_path: Path) -> None:
    store = FileModelStore(tmp_path)

    with pytest.raises(ModelNotFoundError):
        store.load(ELEC, "m1")
    store.save(ELEC, "m1", {"model.ubj": b"x"}, {})
    with pytest.raises(ModelNotFoundError, match="no model version 7"):
        store.activate(ELEC, "m1", 7)


def test_list_models_returns_active_version_per_meter(tmp_path: Path) -> None:
    store = FileModelStore(tmp_path)
    store.save(ELEC, "a", {"model.ubj": b"x"}, {})
    store.save(MeterType.WATER, "b", {"model.ubj": b"y"}, {})

    assert [(m.meter_type, m.meter_id) for m in store.list_models()] == [
        (ELEC, "a"),
        (MeterType.WATER, "b"),
    ]
    assert [m.meter_id for m in store.list_models(MeterType.WATER)] == ["b"]


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


def test_a_failed_write_leaves_no_partial_version(tmp_path: Path) -> None:
    store = FileModelStore(tmp_path)
    store.save(ELEC, "m1", {"model.ubj": b"good"}, {})

    class Unserialisable:
        def __str__(self) -> str:
            raise OSError(28, "No space left on device")

    with pytest.raises(StorageError, match="No space left"):
        store.save(ELEC, "m1", {"model.ubj": b"new"}, {"bad": Unserialisable()})

    assert [v.version for v in store.list_versions(ELEC, "m1")] == [1]
    assert list(store.meter_dir(ELEC, "m1").glob(".tmp-*")) == []
    assert store.load(ELEC, "m1")[1] == {"model.ubj": b"good"}


@pytest.mark.parametrize("name", ["../evil", ".hidden", "bundle.json", "a/b", ""])
def test_unsafe_artifact_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="invalid artifact name"):
        FileModelStore(tmp_path).save(ELEC, "m1", {name: b"x"}, {})


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
