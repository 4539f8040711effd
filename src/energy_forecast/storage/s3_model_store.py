"""S3 ``ModelStore``: versioned model bundles in any S3-compatible bucket (AWS, MinIO, Ceph, SeaweedFS).

Layout under ``s3://{bucket}/{prefix}/``::

    models/{type}/{meter}/blobs/{save-id}/model.ubj ...   artifacts, written first, never modified
    models/{type}/{meter}/v0002.json                      manifest: metadata + artifact keys, written last
    active/{type}/{meter}.json                            {"version": 2, "metadata": {...}}

S3 has no rename, so a save never writes where a reader looks until it is whole: artifacts go under
a key unique to the save, then the manifest claims the next version number with a conditional
``PUT`` (``If-None-Match: *``); a version without its manifest does not exist, and two hosts that
pick the same number cannot overwrite each other (one gets 412 and takes the next). The active
pointer moves by a compare-and-swap (``If-Match`` on its ETag, ``If-None-Match: *`` for the first),
so concurrent saves and activations never lose an update and a crash at any point leaves the
previous active version active. Conditional writes rather than a Redis lock: they need no
second service and no lease that could expire mid-save, so the store is correct on its own.

The pointer carries the version's metadata, so reading the active version is one ``GET``. A host
trusts its cached pointer for ``pointer_ttl_s`` (1 s; no round trip), then asks again with a
conditional ``GET`` (``304 Not Modified`` when unchanged): another host's new active version is
seen within that second, this host's own at once. Manifests never change and are cached for good.

Credentials come from boto3's standard chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, instance roles); they are never part of a message or log line here.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.exceptions as bex
from botocore.config import Config

from energy_forecast.domain.meters import MeterType, validate_meter_id
from energy_forecast.errors import ConflictError, ModelNotFoundError, StorageError
from energy_forecast.storage.base import ModelVersion
from energy_forecast.storage.model_store import check_artifact_names, version_location
from energy_forecast.storage.s3_client import code_of, ensure_bucket, parse_store_url, s3_errors, status_of

FORMAT = 1
MAX_CLAIMS = 50  # version numbers tried by one save before giving up (each one lost a race)


def _dumps(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode("utf-8")


class S3ModelStore:
    """ModelStore on an S3 bucket shared by every API and worker host."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        timeout_s: float = 10.0,
        create_bucket: bool = True,
        max_attempts: int = 3,
        pointer_ttl_s: float = 1.0,
    ) -> None:
        self.bucket = bucket
        self._prefix = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
        self._endpoint = endpoint_url or "AWS S3"
        self._create_bucket = create_bucket
        config = Config(
            connect_timeout=min(timeout_s, 5.0),
            read_timeout=timeout_s,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            max_pool_connections=32,
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        # botocore's DEBUG lines carry request headers (the access key id in Authorization): even
        # with DEBUG=true they stay off, so no credential reaches a log.
        for name in ("botocore", "boto3", "s3transfer"):
            logging.getLogger(name).setLevel(max(logging.getLogger(name).level, logging.INFO))
        # Built lazily: a forked worker process must not inherit a parent's connection pool.
        self._factory: Callable[[], Any] = lambda: boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, config=config
        )
        self._client: Any = None
        self._lock = threading.Lock()
        self._bucket_ready = False
        self._manifests: dict[tuple[str, str, int], dict[str, Any]] = {}
        self._pointer_ttl_s = pointer_ttl_s
        self._pointers: dict[tuple[str, str], tuple[str, dict[str, Any], float]] = {}

    @classmethod
    def from_url(cls, url: str, **options: Any) -> S3ModelStore:
        bucket, prefix = parse_store_url(url)
        return cls(bucket, prefix, **options)

    def __repr__(self) -> str:
        return f"S3ModelStore(s3://{self.bucket}/{self._prefix} at {self._endpoint})"

    # the Protocol -------------------------------------------------------------------------------
    def save(
        self,
        meter_type: MeterType,
        meter_id: str,
        artifacts: dict[str, bytes],
        metadata: dict[str, Any],
        *,
        activate: bool = True,
    ) -> ModelVersion:
        """Artifacts, then the manifest (claims the version), then the pointer when ``activate``.

        Raises:
            StorageError: S3 unreachable, slow past the timeout, or refusing; the previous active
                version stays active and no new version is visible unless its manifest was written.
        """
        check_artifact_names(artifacts)
        mtype, meter_id = MeterType(meter_type), validate_meter_id(meter_id)
        base = self._meter_prefix(mtype, meter_id)
        save_id = uuid.uuid4().hex
        full_metadata = {**metadata, "saved_at": datetime.now(UTC).isoformat()}
        written: list[str] = []
        with s3_errors(self.bucket, self._endpoint, f"save the model of meter {meter_id!r}"):
            try:
                full = _dumps(full_metadata)  # fails before anything is written
                for name, data in artifacts.items():
                    key = f"{base}blobs/{save_id}/{name}"
                    self._call().put_object(Bucket=self.bucket, Key=key, Body=data)
                    written.append(key)
                manifest = {
                    "format": FORMAT,
                    "metadata": json.loads(full),
                    "artifacts": {name: f"blobs/{save_id}/{name}" for name in artifacts},
                    "bytes": sum(len(d) for d in artifacts.values()),
                }
                version = self._claim_version(mtype, meter_id, _dumps(manifest))
            except BaseException:
                self._delete_quietly(written)
                raise
            self._manifests[(mtype.value, meter_id, version)] = manifest
            if activate:
                self._swap_pointer(mtype, meter_id, version, manifest["metadata"], only_if_newer=True)
        return ModelVersion(
            meter_id,
            mtype,
            version,
            version_location(mtype, meter_id, version),
            manifest["metadata"],
            activate,
        )

    def load(
        self, meter_type: MeterType, meter_id: str, version: int | None = None
    ) -> tuple[ModelVersion, dict[str, bytes]]:
        """The active (or given) version's metadata and artifacts.

        Raises:
            ModelNotFoundError: no trained model, or no such version.
            StorageError: S3 unreachable or refusing.
        """
        info = self.get_version(meter_type, meter_id, version)
        manifest = self._manifest(info.meter_type, info.meter_id, info.version)
        base = self._meter_prefix(info.meter_type, info.meter_id)
        with s3_errors(self.bucket, self._endpoint, f"load the model of meter {meter_id!r}"):
            artifacts = {
                name: self._call().get_object(Bucket=self.bucket, Key=base + rel)["Body"].read()
                for name, rel in sorted(manifest["artifacts"].items())
            }
        return info, artifacts

    def get_version(self, meter_type: MeterType, meter_id: str, version: int | None = None) -> ModelVersion:
        mtype, meter_id = MeterType(meter_type), validate_meter_id(meter_id)
        pointer = self._read_pointer(mtype, meter_id)
        active = int(pointer["version"]) if pointer is not None else None
        if version is None:
            if pointer is None or active is None:
                raise ModelNotFoundError(meter_id)
            return ModelVersion(
                meter_id, mtype, active, version_location(mtype, meter_id, active), pointer["metadata"], True
            )
        manifest = self._manifest(mtype, meter_id, version)
        return ModelVersion(
            meter_id,
            mtype,
            version,
            version_location(mtype, meter_id, version),
            manifest["metadata"],
            version == active,
        )

    def list_versions(self, meter_type: MeterType, meter_id: str) -> list[ModelVersion]:
        mtype, meter_id = MeterType(meter_type), validate_meter_id(meter_id)
        pointer = self._read_pointer(mtype, meter_id)
        active = int(pointer["version"]) if pointer is not None else None
        found = []
        for version in self._versions(mtype, meter_id):
            manifest = self._manifest(mtype, meter_id, version)
            location = version_location(mtype, meter_id, version)
            found.append(
                ModelVersion(meter_id, mtype, version, location, manifest["metadata"], version == active)
            )
        return found

    def activate(self, meter_type: MeterType, meter_id: str, version: int) -> ModelVersion:
        """Make an existing version the active one (roll back or forward), by compare-and-swap."""
        mtype, meter_id = MeterType(meter_type), validate_meter_id(meter_id)
        manifest = self._manifest(mtype, meter_id, version)
        self._swap_pointer(mtype, meter_id, version, manifest["metadata"], only_if_newer=False)
        return ModelVersion(
            meter_id, mtype, version, version_location(mtype, meter_id, version), manifest["metadata"], True
        )

    def list_models(self, meter_type: MeterType | None = None) -> list[ModelVersion]:
        """The active version of every meter that has one: one LIST page per 1,000 meters, then the
        pointers read in parallel (unchanged ones answer 304 from this process's cache)."""
        types = [MeterType(meter_type)] if meter_type is not None else list(MeterType)
        wanted: list[tuple[MeterType, str]] = []
        for mtype in types:
            head = f"{self._prefix}active/{mtype.value}/"
            for key in self._keys(head):
                name = key[len(head) :]
                if name.endswith(".json") and "/" not in name:
                    wanted.append((mtype, name[: -len(".json")]))
        with ThreadPoolExecutor(max_workers=16) as pool:
            pointers = list(pool.map(lambda pair: self._read_pointer(*pair), wanted))
        return [
            ModelVersion(
                m, t, int(p["version"]), version_location(t, m, int(p["version"])), p["metadata"], True
            )
            for (t, m), p in zip(wanted, pointers, strict=True)
            if p is not None
        ]

    def delete_version(self, meter_type: MeterType, meter_id: str, version: int) -> None:
        """Remove a version that is neither active nor the newest: manifest first (from then on the
        version does not exist), then its artifacts. The newest stays, because the next save would
        claim its number again and other hosts cache manifests by number for good.

        Raises:
            ModelNotFoundError: no such version.
            ConflictError: it is the active or the newest version.
            StorageError: S3 unreachable or refusing.
        """
        mtype, meter_id = MeterType(meter_type), validate_meter_id(meter_id)
        manifest = self._manifest(mtype, meter_id, version)
        pointer = self._read_pointer(mtype, meter_id)
        if pointer is not None and int(pointer["version"]) == version:
            raise ConflictError(f"version {version} of meter {meter_id!r} is active; activate another first")
        if version >= max(self._versions(mtype, meter_id), default=version):
            raise ConflictError(f"version {version} of meter {meter_id!r} is the newest and is kept")
        base = self._meter_prefix(mtype, meter_id)
        with s3_errors(self.bucket, self._endpoint, f"remove version {version} of meter {meter_id!r}"):
            self._call().delete_object(Bucket=self.bucket, Key=f"{base}v{version:04d}.json")
        self._manifests.pop((mtype.value, meter_id, version), None)
        self._delete_quietly([base + rel for rel in manifest["artifacts"].values()])

    def ping(self) -> None:
        """Raise StorageError when models cannot be written (creates a missing bucket if allowed)."""
        with s3_errors(self.bucket, self._endpoint, "write a probe object"):
            self._call().put_object(Bucket=self.bucket, Key=f"{self._prefix}.probe", Body=b"")

    # helpers ------------------------------------------------------------------------------------
    def _meter_prefix(self, mtype: MeterType, meter_id: str) -> str:
        return f"{self._prefix}models/{mtype.value}/{meter_id}/"

    def _pointer_key(self, mtype: MeterType, meter_id: str) -> str:
        return f"{self._prefix}active/{mtype.value}/{meter_id}.json"

    def _call(self) -> Any:
        """The client, after making sure the bucket exists (once per process)."""
        if self._client is None or not self._bucket_ready:
            with self._lock:
                if self._client is None:
                    self._client = self._factory()
                if not self._bucket_ready:
                    ensure_bucket(self._client, self.bucket, self._endpoint, create=self._create_bucket)
                    self._bucket_ready = True
        return self._client

    def _keys(self, prefix: str, delimiter: str | None = None) -> Iterator[str]:
        with s3_errors(self.bucket, self._endpoint, "list models"):
            paginator = self._call().get_paginator("list_objects_v2")
            options = {"Delimiter": delimiter} if delimiter else {}
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, **options):
                for item in page.get("Contents", []):
                    yield str(item["Key"])

    def _versions(self, mtype: MeterType, meter_id: str) -> list[int]:
        base = self._meter_prefix(mtype, meter_id)
        versions = []
        for key in self._keys(base, delimiter="/"):
            name = key[len(base) :]
            if name.startswith("v") and name.endswith(".json") and name[1:-5].isdigit():
                versions.append(int(name[1:-5]))
        return sorted(versions)

    def _claim_version(self, mtype: MeterType, meter_id: str, manifest: bytes) -> int:
        """Write the manifest under the next free number; a lost race (412) moves to the next one."""
        known = self._versions(mtype, meter_id)
        version = (known[-1] + 1) if known else 1
        base = self._meter_prefix(mtype, meter_id)
        for _ in range(MAX_CLAIMS):
            try:
                self._call().put_object(
                    Bucket=self.bucket,
                    Key=f"{base}v{version:04d}.json",
                    Body=manifest,
                    IfNoneMatch="*",
                    ContentType="application/json",
                )
                return version
            except bex.ClientError as exc:
                if status_of(exc) not in (409, 412):
                    raise
                version += 1
        raise StorageError(f"meter {meter_id!r}: {MAX_CLAIMS} concurrent saves won every version number")

    def _swap_pointer(
        self, mtype: MeterType, meter_id: str, version: int, metadata: dict[str, Any], *, only_if_newer: bool
    ) -> None:
        """Compare-and-swap the active pointer; a save never replaces a newer version's pointer."""
        key = self._pointer_key(mtype, meter_id)
        body = _dumps({"version": version, "metadata": metadata})
        with s3_errors(self.bucket, self._endpoint, f"activate version {version} of meter {meter_id!r}"):
            for _ in range(MAX_CLAIMS):
                current = self._get(key)
                if current is not None and only_if_newer and int(json.loads(current[1])["version"]) > version:
                    return
                condition = {"IfMatch": current[0]} if current is not None else {"IfNoneMatch": "*"}
                try:
                    self._call().put_object(
                        Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", **condition
                    )
                    self._pointers.pop((mtype.value, meter_id), None)  # this process sees it at once
                    return
                except bex.ClientError as exc:
                    if status_of(exc) not in (409, 412):
                        raise
            raise StorageError(f"meter {meter_id!r}: the active pointer kept changing; try again")

    def _get(self, key: str, etag: str | None = None) -> tuple[str, bytes] | None:
        """(ETag, body) of an object; None when absent; ("", b"") for 304 Not Modified on ``etag``."""
        options = {"IfNoneMatch": etag} if etag else {}
        try:
            reply = self._call().get_object(Bucket=self.bucket, Key=key, **options)
        except bex.ClientError as exc:
            if status_of(exc) == 304:
                return "", b""
            if code_of(exc) in {"NoSuchKey", "404"} or status_of(exc) == 404:
                return None
            raise
        return str(reply["ETag"]), reply["Body"].read()

    def _read_pointer(self, mtype: MeterType, meter_id: str) -> dict[str, Any] | None:
        """The active pointer: from this process's cache while younger than ``pointer_ttl_s``, then
        by a conditional GET (304 when unchanged)."""
        cache_key = (mtype.value, meter_id)
        cached = self._pointers.get(cache_key)
        now = time.monotonic()
        if cached is not None and now - cached[2] < self._pointer_ttl_s:
            return dict(cached[1])
        with s3_errors(self.bucket, self._endpoint, f"read the active model of meter {meter_id!r}"):
            got = self._get(self._pointer_key(mtype, meter_id), cached[0] if cached else None)
        if got is None:
            self._pointers.pop(cache_key, None)
            return None
        if got == ("", b"") and cached is not None:
            self._pointers[cache_key] = (cached[0], cached[1], now)
            return dict(cached[1])
        pointer = json.loads(got[1])
        self._pointers[cache_key] = (got[0], pointer, now)
        return dict(pointer)

    def _manifest(self, mtype: MeterType, meter_id: str, version: int) -> dict[str, Any]:
        """A version's manifest (immutable, so cached for the life of the process)."""
        cache_key = (mtype.value, meter_id, version)
        if cache_key in self._manifests:
            return self._manifests[cache_key]
        key = f"{self._meter_prefix(mtype, meter_id)}v{version:04d}.json"
        with s3_errors(self.bucket, self._endpoint, f"read version {version} of meter {meter_id!r}"):
            got = self._get(key)
        if got is None:
            raise ModelNotFoundError(meter_id, f"no model version {version}")
        manifest: dict[str, Any] = json.loads(got[1])
        self._manifests[cache_key] = manifest
        return manifest

    def _delete_quietly(self, keys: list[str]) -> None:
        """Best effort after a failed save: orphaned blobs are invisible anyway (no manifest)."""
        if not keys or self._client is None:
            return
        with suppress(bex.BotoCoreError, bex.ClientError):
            self._client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
