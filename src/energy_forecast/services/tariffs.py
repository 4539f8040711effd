"""Stored tariffs and which meter or group each applies to, in Redis.

Why Redis and not the series store: a tariff is a small JSON document read by every API host and
worker, and Redis is already the one place they all share for documents of that kind (alerts,
task states), durable by default (the embedded server persists to disk). The series store is a
time-series store (DuckDB or InfluxDB); InfluxDB has nowhere to keep a JSON document.

Redis layout: hash ``ef_tariffs`` (tariff id -> canonical tariff JSON, ``tariff_to_dict`` plus
``updated_at``); hash ``ef_tariff_attached`` (``meter:<meter_type>:<meter_id>`` or
``group:<group_id>`` -> tariff id). A subject has at most one tariff; attaching another replaces it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import redis

from energy_forecast.domain.tariffs import Tariff, TariffError, parse_tariff, tariff_to_dict
from energy_forecast.domain.tasks import utc_now
from energy_forecast.errors import ConflictError, InputDataError, NotFoundError

TARIFFS_KEY = "ef_tariffs"
ATTACHED_KEY = "ef_tariff_attached"
TARIFF_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_ID = re.compile(TARIFF_ID_PATTERN)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def validate_tariff_id(tariff_id: str) -> str:
    if not _ID.match(tariff_id):
        raise InputDataError(
            f"tariff id {tariff_id!r} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return tariff_id


def checked_tariff(data: Any) -> Tariff:
    """``parse_tariff`` with its message as a 422 (``InputDataError``)."""
    try:
        return parse_tariff(data)
    except TariffError as exc:
        raise InputDataError(f"tariff: {exc}") from exc


def subject_key(kind: str, subject_id: str, meter_type: str | None = None) -> str:
    return f"meter:{meter_type}:{subject_id}" if kind == "meter" else f"group:{subject_id}"


def put_tariff(client: redis.Redis, tariff_id: str, data: Any) -> tuple[dict[str, Any], bool]:
    """Store (create or replace) a tariff; returns its stored form and whether it is new."""
    validate_tariff_id(tariff_id)
    record = tariff_to_dict(checked_tariff(data)) | {"id": tariff_id, "updated_at": utc_now().isoformat()}
    created = client.hset(TARIFFS_KEY, tariff_id, json.dumps(record)) == 1
    return _with_subjects(client, record), created


def get_tariff(client: redis.Redis, tariff_id: str) -> dict[str, Any]:
    """The stored tariff with the subjects it is attached to. Raises NotFoundError."""
    validate_tariff_id(tariff_id)
    raw = client.hget(TARIFFS_KEY, tariff_id)
    if raw is None:
        raise NotFoundError(f"tariff {tariff_id!r} does not exist; create it with PUT /tariffs/{tariff_id}")
    return _with_subjects(client, json.loads(raw))


def list_tariffs(client: redis.Redis) -> list[dict[str, Any]]:
    attached = _attached(client)
    records = [json.loads(raw) for raw in client.hvals(TARIFFS_KEY)]
    return sorted(
        ({**r, "attached_to": sorted(k for k, v in attached.items() if v == r["id"])} for r in records),
        key=lambda r: r["id"],
    )


def delete_tariff(client: redis.Redis, tariff_id: str) -> None:
    """Raises: NotFoundError; ConflictError while a meter or group uses it (detach it first)."""
    record = get_tariff(client, tariff_id)
    if record["attached_to"]:
        raise ConflictError(
            f"tariff {tariff_id!r} is attached to {', '.join(record['attached_to'])}; detach it first"
        )
    client.hdel(TARIFFS_KEY, tariff_id)


def attach(client: redis.Redis, tariff_id: str, key: str) -> None:
    """Make ``tariff_id`` the tariff of subject ``key`` (``subject_key``). Raises NotFoundError."""
    get_tariff(client, tariff_id)
    client.hset(ATTACHED_KEY, key, tariff_id)


def detach(client: redis.Redis, tariff_id: str, key: str) -> None:
    """Raises NotFoundError when ``key`` does not have this tariff."""
    current = client.hget(ATTACHED_KEY, key)
    if current is None or _text(current) != tariff_id:
        raise NotFoundError(f"{key.replace(':', ' ', 1)} does not have tariff {tariff_id!r}")
    client.hdel(ATTACHED_KEY, key)


def attached_tariff(client: redis.Redis, key: str) -> tuple[str, Tariff] | None:
    """The tariff attached to subject ``key``, or None."""
    tariff_id = client.hget(ATTACHED_KEY, key)
    if tariff_id is None:
        return None
    raw = client.hget(TARIFFS_KEY, _text(tariff_id))
    if raw is None:
        return None
    record = json.loads(raw)
    body = {k: v for k, v in record.items() if k not in ("id", "updated_at")}
    return _text(tariff_id), parse_tariff(body)


def stored_tariff(client: redis.Redis, tariff_id: str) -> Tariff:
    record = get_tariff(client, tariff_id)
    return parse_tariff({k: v for k, v in record.items() if k not in ("id", "updated_at", "attached_to")})


def _attached(client: redis.Redis) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in client.hgetall(ATTACHED_KEY).items()}


def _with_subjects(client: redis.Redis, record: dict[str, Any]) -> dict[str, Any]:
    attached = _attached(client)
    return {**record, "attached_to": sorted(k for k, v in attached.items() if v == record["id"])}
