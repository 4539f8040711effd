"""API key store: secrets shown once and stored only as digests, atomic 0600 file, reload on change."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from energy_forecast.errors import ConfigurationError, InputDataError
from energy_forecast.services.apikeys import ApiKeyNotFoundError, ApiKeyStore


@pytest.fixture
def store(tmp_path: Path) -> ApiKeyStore:
    return ApiKeyStore(tmp_path / "home" / "config" / "api_keys.json")


def test_a_created_key_verifies_and_only_its_digest_is_stored(store: ApiKeyStore) -> None:
    record, secret = store.create("ops", ["read"])

    assert store.verify(secret) == record
    text = store.path.read_text()
    assert secret not in text
    assert hashlib.sha256(secret.encode()).hexdigest() in text
    assert secret.startswith(f"ef_{record.key_id}_") and len(secret) > 40


def test_the_key_file_and_its_directory_are_private(store: ApiKeyStore) -> None:
    store.create("ops", ["read"])

    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert [p.name for p in store.path.parent.iterdir() if p.name.startswith(".api_keys.")] == []


@pytest.mark.parametrize(
    "presented",
    [
        pytest.param("", id="empty"),
        pytest.param("ef_00000000_nope", id="unknown-id"),
        pytest.param("not-a-key", id="no-prefix"),
        pytest.param("ef_../../etc_passwd", id="traversal"),
        pytest.param("ef_\x00_\udcff", id="nul-and-surrogate"),
    ],
)
def test_wrong_keys_do_not_verify(store: ApiKeyStore, presented: str) -> None:
    store.create("ops", ["read"])

    assert store.verify(presented) is None


def test_a_key_with_the_right_id_but_wrong_secret_does_not_verify(store: ApiKeyStore) -> None:
    _, secret = store.create("ops", ["read"])

    assert store.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None


def test_write_implies_read_and_unknown_scopes_are_refused(store: ApiKeyStore) -> None:
    record, _ = store.create("loader", ["WRITE"])

    assert record.scopes == ("read", "write")
    with pytest.raises(InputDataError, match="unknown scope"):
        store.create("x", ["admin"])
    with pytest.raises(InputDataError, match="key name"):
        store.create("../etc", ["read"])


def test_a_revocation_reaches_another_store_instance_without_restart(store: ApiKeyStore) -> None:
    record, secret = store.create("ops", ["read"])
    other_process_view = ApiKeyStore(store.path)
    assert other_process_view.verify(secret) is not None

    store.revoke(record.key_id)

    assert other_process_view.verify(secret) is None
    assert not other_process_view.has_active_keys()
    assert other_process_view.list_keys()[0].revoked_at is not None


def test_revoking_an_unknown_id_says_how_to_find_ids(store: ApiKeyStore) -> None:
    with pytest.raises(ApiKeyNotFoundError, match="apikey list"):
        store.revoke("deadbeef")


def test_a_damaged_key_file_fails_closed(store: ApiKeyStore) -> None:
    store.create("ops", ["read"])
    store.path.write_text("{not json")

    with pytest.raises(ConfigurationError, match="not a valid key file"):
        store.has_active_keys()
