"""The production layout files: no Docker engine runs here, so check what can be checked statically."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from energy_forecast.settings import SEED_ENV, Settings, load_settings
from energy_forecast.storage import forecast_layout

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
OUR_SERVICES = ("api", "worker")


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")))


def resolve(value: object) -> str:
    """Compose's ``${VAR:-default}`` / ``${VAR:?message}`` / ``${VAR}`` with a stand-in for secrets."""
    text = str(value)
    text = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)
    return re.sub(r"\$\{[A-Z_]+(:\?[^}]*)?\}", "stand-in-secret", text)


# The standard AWS credential chain, read by boto3 for the S3 model store.
AWS_CHAIN = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"})


def accepted(variable: str) -> bool:
    """A seed name, an AWS credential-chain name, or EF_<field>[__<nested field>] of Settings."""
    if variable in SEED_ENV or variable in AWS_CHAIN:
        return True
    if not variable.startswith("EF_"):
        return False
    path = variable[3:].lower().split("__")
    model: Any = Settings
    for i, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return False
        if i < len(path) - 1:
            model = field.annotation
            if not hasattr(model, "model_fields"):
                return False
    return True


@pytest.mark.parametrize("service", OUR_SERVICES)
def test_every_variable_given_to_the_service_is_a_setting_and_they_load(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = compose()["services"][service]["environment"]

    unknown = sorted(v for v in environment if not accepted(v))
    for variable, value in environment.items():
        monkeypatch.setenv(variable, resolve(value))
    settings = load_settings()

    assert unknown == []
    assert settings.redis_url == "redis://:stand-in-secret@redis:6379/0"
    assert settings.storage_backend == "influxdb"
    assert settings.influx.url == "http://influxdb:8086"
    assert settings.influx.bucket == "energy_forecasting"
    assert settings.home == Path("/data")
    assert settings.model_store_url == "s3://energy-models/models"  # no model on a host's disk
    assert "volumes" not in compose()["services"]["worker"]


def test_the_acceptance_check_itself_refuses_unknown_names() -> None:
    assert accepted("EF_INFLUX__TIMEOUT_S") and accepted("REDIS_URL") and accepted("EF_WORKER_THREADS")
    assert not accepted("EF_WORKERS") and not accepted("EF_INFLUX__NOPE") and not accepted("REDIS_HOST")


def documented_layout() -> dict[str, str]:
    text = (ROOT / "docs" / "how-to" / "docker-compose.md").read_text(encoding="utf-8")
    section = text.split("| service | port |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| ([0-9-]+) \|", section, flags=re.MULTILINE)
    return dict(rows)


def test_services_and_ports_agree_with_the_docs() -> None:
    services = compose()["services"]

    published = {
        name: ",".join(str(p).split(":")[0] for p in spec.get("ports", [])) or "-"
        for name, spec in services.items()
    }

    assert published == documented_layout()
    assert set(services) == {"redis", "influxdb", "s3", "api", "worker", "grafana"}
    assert services["influxdb"]["image"].startswith("influxdb:2.7")


def test_redis_and_influxdb_are_internal_and_redis_needs_a_password() -> None:
    spec = compose()
    services = spec["services"]

    assert spec["networks"]["backend"]["internal"] is True
    for name in ("redis", "influxdb"):
        assert "ports" not in services[name] and services[name]["networks"] == ["backend"]
    assert "--requirepass" in services["redis"]["command"]
    password = resolve(services["redis"]["command"][services["redis"]["command"].index("--requirepass") + 1])
    assert resolve(services["api"]["environment"]["REDIS_URL"]) == f"redis://:{password}@redis:6379/0"
    assert "REDIS_PASSWORD" in (DEPLOY / ".env.example").read_text(encoding="utf-8")


def test_influxdb_gets_the_bucket_the_service_uses_and_the_dbrp_script() -> None:
    services = compose()["services"]
    bucket = services["api"]["environment"]["INFLUX_BUCKET"]

    assert services["influxdb"]["environment"]["DOCKER_INFLUXDB_INIT_BUCKET"] == bucket
    mounts = services["influxdb"]["volumes"]
    assert any(m.startswith("./influxdb/init-dbrp.sh:/docker-entrypoint-initdb.d/") for m in mounts)
    assert (DEPLOY / "influxdb" / "init-dbrp.sh").stat().st_mode & 0o111
    assert "v1 dbrp create" in (DEPLOY / "influxdb" / "init-dbrp.sh").read_text(encoding="utf-8")


def test_grafana_dashboard_reads_the_provisioned_source_and_our_layout() -> None:
    source = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/influxdb.yaml").read_text())
    uid = source["datasources"][0]["uid"]
    bucket = compose()["services"]["api"]["environment"]["INFLUX_BUCKET"]
    dashboard = json.loads((DEPLOY / "grafana/dashboards/energy-forecast.json").read_text(encoding="utf-8"))

    queries = [t["query"] for p in dashboard["panels"] for t in p["targets"]]

    assert source["datasources"][0]["jsonData"]["dbName"] == bucket
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {uid}
    forecast_queries = [q for q in queries if f'FROM "{forecast_layout.MEASUREMENT}"' in q]
    assert forecast_queries, "no panel reads the forecast measurement"
    for field in ("value", "lower", "upper"):
        assert any(f'"{field}"' in q for q in forecast_queries)
    assert any('"model_version"' in q for q in forecast_queries)
    assert any('"${meter_type}_consumption"' in q and '"consumption"' in q for q in queries)
