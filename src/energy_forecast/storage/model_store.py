"""File-system ``ModelStore``: versioned model bundles under ``{root}/{meter_type}/{meter_id}/``.

Layout of one meter::

    models/electricity/tetouan_zone1/
        v0001/ bundle.json model.ubj ...          one directory per version, never modified
        v0002/ ...
        active.json                               {"version": 2}, replaced atomically

A version is written into a hidden temporary directory, fsynced, and renamed into place, so a
reader never sees a half-written bundle and a crash leaves at most a ``.tmp-*`` directory that the
next save removes. ``active.json`` is written to a temporary name and renamed too: the previous
active model stays active until the new one is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from energy_forecast.domain.meters import MeterType, validate_meter_id
from energy_forecast.errors import ConflictError, ModelNotFoundError, StorageError
from energy_forecast.storage.base import ModelVersion

METADATA_FILE = "bundle.json"
ACTIVE_FILE = "active.json"
_ARTIFACT_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_.-")


def _version_dir(version: int) -> str:
    return f"v{version:04d}"


def version_location(meter_type: MeterType, meter_id: str, version: int) -> str:
    """``electricity/m1/v0002``: a version's place relative to any store's root (never a host path)."""
    return f"{MeterType(meter_type).value}/{meter_id}/{_version_dir(version)}"


def check_artifact_names(artifacts: dict[str, bytes]) -> None:
    """Raises: ValueError for a name that could escape the version's folder or hide from listings."""
    for name in artifacts:
        if name == METADATA_FILE or not name or not set(name) <= _ARTIFACT_NAME_CHARS or name[0] == ".":
            raise ValueError(f"invalid artifact name {name!r}")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileModelStore:
    """ModelStore on a local (or mounted) directory."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        self._lock = threading.Lock()

    def meter_dir(self, meter_type: MeterType, meter_id: str) -> Path:
        return self._root / MeterType(meter_type).value / validate_meter_id(meter_id)

    def save(
        self,
        meter_type: MeterType,
        meter_id: str,
        artifacts: dict[str, bytes],
        metadata: dict[str, Any],
        *,
        activate: bool = True,
    ) -> ModelVersion:
        """Write a new version atomically and (by default) make it the active one.

        Raises:
            StorageError: the directory is not writable or the disk is full; nothing changes.
        """
        check_artifact_names(artifacts)
        meter_dir = self.meter_dir(meter_type, meter_id)
        tmp = meter_dir / f".tmp-{uuid.uuid4().hex}"
        try:
            meter_dir.mkdir(parents=True, exist_ok=True)
            self._remove_stale_temporaries(meter_dir)
            tmp.mkdir()
            full_metadata = {**metadata, "saved_at": datetime.now(UTC).isoformat()}
            for name, data in {**artifacts, METADATA_FILE: _dumps(full_metadata)}.items():
                with open(tmp / name, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
            with self._lock:
                version = self._next_version(meter_dir)
                target = meter_dir / _version_dir(version)
                os.rename(tmp, target)
                _fsync_dir(meter_dir)
                if activate:
                    self._write_active(meter_dir, version)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise StorageError(
                f"cannot save model of meter {meter_id!r} under {meter_dir}: {exc.strerror or exc}"
            ) from exc
        return ModelVersion(
            meter_id,
            MeterType(meter_type),
            version,
            version_location(meter_type, meter_id, version),
            full_metadata,
            activate,
        )

    def load(
        self, meter_type: MeterType, meter_id: str, version: int | None = None
    ) -> tuple[ModelVersion, dict[str, bytes]]:
        """The active (or given) version's metadata and artifacts.

        Raises:
            ModelNotFoundError: no trained model, or no such version.
        """
        info = self.get_version(meter_type, meter_id, version)
        folder = self._root / info.location
        artifacts = {
            path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.name != METADATA_FILE
        }
        return info, artifacts

    def get_version(self, meter_type: MeterType, meter_id: str, version: int | None = None) -> ModelVersion:
        meter_dir = self.meter_dir(meter_type, meter_id)
        active = self._read_active(meter_dir)
        wanted = active if version is None else version
        if wanted is None:
            raise ModelNotFoundError(meter_id)
        path = meter_dir / _version_dir(wanted)
        if not (path / METADATA_FILE).is_file():
            raise ModelNotFoundError(meter_id, f"no model version {wanted}")
        metadata = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
        location = version_location(meter_type, meter_id, wanted)
        return ModelVersion(meter_id, MeterType(meter_type), wanted, location, metadata, wanted == active)

    def list_versions(self, meter_type: MeterType, meter_id: str) -> list[ModelVersion]:
        meter_dir = self.meter_dir(meter_type, meter_id)
        if not meter_dir.is_dir():
            return []
        return [self.get_version(meter_type, meter_id, v) for v in self._versions(meter_dir)]

    def activate(self, meter_type: MeterType, meter_id: str, version: int) -> ModelVersion:
        """Make an existing version the active one (roll back or forward)."""
        info = self.get_version(meter_type, meter_id, version)
        with self._lock:
            self._write_active(self.meter_dir(meter_type, meter_id), version)
        return ModelVersion(info.meter_id, info.meter_type, version, info.location, info.metadata, True)

    def list_models(self, meter_type: MeterType | None = None) -> list[ModelVersion]:
        """The active version of every meter that has one."""
        found: list[ModelVersion] = []
        types = [meter_type] if meter_type is not None else list(MeterType)
        for mtype in types:
            type_dir = self._root / MeterType(mtype).value
            if not type_dir.is_dir():
                continue
            for meter_dir in sorted(type_dir.iterdir()):
                if meter_dir.is_dir() and self._read_active(meter_dir) is not None:
                    found.append(self.get_version(mtype, meter_dir.name))
        return found

    def delete_version(self, meter_type: MeterType, meter_id: str, version: int) -> None:
        """Remove a version that is neither active nor the newest (the next save would reuse the
        newest's number): renamed out of sight first, then removed from disk.

        Raises:
            ModelNotFoundError: no such version.
            ConflictError: it is the active or the newest version.
        """
        info = self.get_version(meter_type, meter_id, version)
        folder = self._root / info.location
        trash = folder.parent / f".trash-{uuid.uuid4().hex}"
        with self._lock:
            if self._read_active(folder.parent) == version:
                raise ConflictError(
                    f"version {version} of meter {meter_id!r} is active; activate another first"
                )
            if version >= max(self._versions(folder.parent), default=version):
                raise ConflictError(f"version {version} of meter {meter_id!r} is the newest and is kept")
            try:
                os.rename(folder, trash)
            except OSError as exc:
                raise StorageError(f"cannot remove {info.location}: {exc.strerror or exc}") from exc
        shutil.rmtree(trash, ignore_errors=True)

    def ping(self) -> None:
        """Raise StorageError when the model directory cannot be written."""
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            probe = self._root / f".probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StorageError(f"model directory {self._root} not writable: {exc.strerror or exc}") from exc

    # helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _versions(meter_dir: Path) -> list[int]:
        versions = []
        for path in meter_dir.iterdir():
            name = path.name
            if path.is_dir() and name.startswith("v") and name[1:].isdigit():
                versions.append(int(name[1:]))
        return sorted(versions)

    def _next_version(self, meter_dir: Path) -> int:
        versions = self._versions(meter_dir)
        return (versions[-1] + 1) if versions else 1

    @staticmethod
    def _read_active(meter_dir: Path) -> int | None:
        try:
            return int(json.loads((meter_dir / ACTIVE_FILE).read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def _write_active(meter_dir: Path, version: int) -> None:
        tmp = meter_dir / f".active-{uuid.uuid4().hex}"
        tmp.write_bytes(_dumps({"version": version}))
        os.replace(tmp, meter_dir / ACTIVE_FILE)

    @staticmethod
    def _remove_stale_temporaries(meter_dir: Path) -> None:
        """Leftovers of a crashed save (older than a minute, so a concurrent save is untouched)."""
        now = datetime.now(UTC).timestamp()
        for path in meter_dir.glob(".tmp-*"):
            try:
                if now - path.stat().st_mtime > 60:
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                continue


def _dumps(value: dict[str, Any]) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, default=str).encode("utf-8")
