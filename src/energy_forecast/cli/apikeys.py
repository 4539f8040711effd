"""``energy-forecast apikey create|list|revoke``: API keys, stored hashed under EF_HOME/config."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from energy_forecast.cli.common import fail, log, settings
from energy_forecast.errors import EnergyForecastError

apikey_app = typer.Typer(help="Create, list and revoke API keys (stored hashed under EF_HOME/config).")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option("--name", help="who or what uses the key")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="read and/or write (write implies read); default read")
    ] = None,
) -> None:
    """Create a key and print it once; only its SHA-256 digest is stored."""
    from energy_forecast.services.apikeys import ApiKeyStore

    chosen = settings(file_log=False)
    try:
        record, secret = ApiKeyStore(chosen.api_keys_path).create(name, scope or ["read"])
    except EnergyForecastError as exc:
        raise fail(exc) from None
    log.info("apikey_created", key_id=record.key_id, name=record.name, scopes=list(record.scopes))
    typer.echo(secret)
    typer.echo(
        f"key {record.key_id} ({', '.join(record.scopes)}) created; this is the only time it is shown. "
        "Send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'.",
        err=True,
    )


@apikey_app.command("list")
def apikey_list(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """List keys (ids, names, scopes, created and revoked times; never the keys)."""
    from energy_forecast.services.apikeys import ApiKeyStore

    chosen = settings(file_log=False)
    try:
        rows = [k.public() for k in ApiKeyStore(chosen.api_keys_path).list_keys()]
    except EnergyForecastError as exc:
        raise fail(exc) from None
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    typer.echo(f"{'key_id':<10} {'name':<24} {'scopes':<12} {'created_at':<26} revoked_at")
    for row in rows:
        typer.echo(
            f"{row['key_id']:<10} {row['name']:<24} {','.join(row['scopes']):<12} "
            f"{row['created_at']:<26} {row['revoked_at'] or '-'}"
        )


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument(help="the key id shown by `apikey list`")]) -> None:
    """Revoke a key; running API processes refuse it from their next request."""
    from energy_forecast.services.apikeys import ApiKeyStore

    chosen = settings(file_log=False)
    try:
        record = ApiKeyStore(chosen.api_keys_path).revoke(key_id)
    except EnergyForecastError as exc:
        raise fail(exc) from None
    log.info("apikey_revoked", key_id=record.key_id)
    typer.echo(f"key {record.key_id} ({record.name}) revoked at {record.revoked_at}")
