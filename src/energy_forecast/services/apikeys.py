"""API keys: created once, stored hashed in one JSON file that every API process reads.

A key looks like ``ef_<key_id>_<secret>``: ``key_id`` (8 hex digits) finds the record, the whole
key is checked against its SHA-256 digest with ``hmac.compare_digest``. SHA-256 without salt or
stretching is adequate here because the secret is 32 random bytes (256 bits) from ``secrets``: a
slow KDF such as scrypt protects low-entropy, human-chosen passwords against guessing, and there is
nothing to guess in a random 256-bit value; a fast digest also keeps each request's check in
microseconds. The file (``{home}/config/api_keys.json``, mode 0600) is replaced atomically, and
readers reload it when it changes, so a revocation reaches running API processes on their next
request.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from energy_forecast.errors import ConfigurationError, InputDataError, NotFoundError

SCOPES: tuple[str, ...] = ("read", "write")
KEY_PREFIX = "ef"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.@-]{0,63}$")
_KEY_ID = re.compile(r"^[0-9a-f]{8}$")
_FORMAT_VERSION = 1
# Compared against when the key id is unknown, so a miss costs the same digest and comparison.
_DUMMY_DIGEST = hashlib.sha256(b"no such key").hexdigest()


class ApiKeyNotFoundError(NotFoundError):
    """Raised when revoking a key id that is not in the store."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"no API key with id {key_id!r}; `energy-forecast apikey list` shows the ids")
        self.key_id = key_id


@dataclass(frozen=True)
class ApiKey:
    """One stored key: never the secret, only its digest."""

    key_id: str
    name: str
    scopes: tuple[str, ...]
    sha256: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    def public(self) -> dict[str, Any]:
        """The record without its digest, for listings."""
        return {k: v for k, v in asdict(self).items() if k != "sha256"} | {"scopes": list(self.scopes)}


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def normalise_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Known scopes in canonical order; ``write`` implies ``read`` (a writer must see what it wrote).

    Raises:
        InputDataError: an unknown scope, or none at all.
    """
    wanted = {s.strip().lower() for s in scopes}
    unknown = wanted - set(SCOPES)
    if unknown:
        raise InputDataError(f"unknown scope(s) {sorted(unknown)}; choose from {list(SCOPES)}")
    if not wanted:
        raise InputDataError(f"give at least one scope from {list(SCOPES)}")
    if "write" in wanted:
        wanted.add("read")
    return tuple(s for s in SCOPES if s in wanted)


class ApiKeyStore:
    """The key file under the service home; safe to share between requests of one process."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._signature: tuple[int, int, int] | None = None
        self._keys: dict[str, ApiKey] = {}

    # -- reading -------------------------------------------------------------------------------

    def list_keys(self) -> list[ApiKey]:
        """All keys, revoked ones included, oldest first (reloaded when the file changed)."""
        self._refresh()
        return sorted(self._keys.values(), key=lambda k: (k.created_at, k.key_id))

    def exists(self) -> bool:
        """True while the key file exists, even when every key in it is revoked."""
        self._refresh()
        return self._signature is not None

    def has_active_keys(self) -> bool:
        self._refresh()
        return any(k.active for k in self._keys.values())

    def verify(self, presented: str) -> ApiKey | None:
        """The active key matching ``presented``, else None; one digest and one constant-time compare."""
        self._refresh()
        parts = presented.split("_", 2)
        record = self._keys.get(parts[1]) if len(parts) == 3 and parts[0] == KEY_PREFIX else None
        expected = record.sha256 if record is not None else _DUMMY_DIGEST
        matches = hmac.compare_digest(digest(presented), expected)
        if record is None or not matches or not record.active:
            return None
        return record

    def _refresh(self) -> None:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._signature, self._keys = None, {}
            return
        except OSError as exc:
            raise ConfigurationError("api keys", f"cannot read {self.path}: {exc.strerror}") from None
        signature = (info.st_ino, info.st_mtime_ns, info.st_size)
        if signature != self._signature:
            self._keys = self._load()
            self._signature = signature

    def _load(self) -> dict[str, ApiKey]:
        try:
            content = json.loads(self.path.read_text(encoding="utf-8"))
            return {
                raw["key_id"]: ApiKey(
                    key_id=str(raw["key_id"]),
                    name=str(raw["name"]),
                    scopes=tuple(raw["scopes"]),
                    sha256=str(raw["sha256"]),
                    created_at=str(raw["created_at"]),
                    revoked_at=raw.get("revoked_at"),
                )
                for raw in content["keys"]
            }
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Fail closed: a damaged key file must not silently turn authentication off.
            raise ConfigurationError(
                "api keys",
                f"{self.path} is not a valid key file ({type(exc).__name__}); restore it from backup",
            ) from None

    # -- writing -------------------------------------------------------------------------------

    def create(self, name: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
        """Store a new key and return it with its secret, which is never stored or shown again.

        Raises:
            InputDataError: a bad name or scope.
        """
        if not _NAME.match(name):
            raise InputDataError(
                "key name must be 1-64 characters: letters, digits, space, '_', '.', '@' or '-'"
            )
        scope_tuple = normalise_scopes(scopes)
        with self._locked():
            keys = self._load()
            key_id = secrets.token_hex(4)
            while key_id in keys:
                key_id = secrets.token_hex(4)
            secret = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
            record = ApiKey(
                key_id=key_id,
                name=name,
                scopes=scope_tuple,
                sha256=digest(secret),
                created_at=_now(),
            )
            keys[key_id] = record
            self._write(keys.values())
        return record, secret

    def revoke(self, key_id: str) -> ApiKey:
        """Mark a key revoked (kept in the file for the audit trail); revoking twice is harmless.

        Raises:
            ApiKeyNotFoundError: no key with that id.
        """
        key_id = key_id.strip().lower()
        with self._locked():
            keys = self._load()
            if not _KEY_ID.match(key_id) or key_id not in keys:
                raise ApiKeyNotFoundError(key_id)
            if keys[key_id].active:
                keys[key_id] = replace(keys[key_id], revoked_at=_now())
                self._write(keys.values())
            return keys[key_id]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise writers (two CLI invocations at once) with an advisory lock beside the file."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, keys: Iterable[ApiKey]) -> None:
        """Write temp-then-rename with mode 0600, so readers see the old or the new file, never half."""
        payload = {
            "version": _FORMAT_VERSION,
            "keys": [asdict(k) | {"scopes": list(k.scopes)} for k in keys],
        }
        fd, tmp = tempfile.mkstemp(prefix=".api_keys.", dir=self.path.parent)  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(payload, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._signature = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
