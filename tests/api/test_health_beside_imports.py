"""``/health/`` probes beside keyed imports over real HTTP: no import may fail.

A probe found every import failing with "connection has an unfinished result" while an
orchestrator polled ``/health/``: the embedded store's ping left its result half read on the one
shared connection. Here 20 probes run concurrently beside each import of a new meter (a registry
write, which is what broke), once with the 1 s health cache as served and once with the cache off
so every probe reaches the store.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from energy_forecast.api.app import create_app
from energy_forecast.api.routes.health import CachedAnswer
from energy_forecast.services.apikeys import ApiKeyStore
from energy_forecast.settings import Settings
from tests.api.live_server import served

READINGS = [{"timestamp": f"2024-01-01T{h:02d}:00:00Z", "consumption": 1.0 + h} for h in range(24)]
PROBES = 20


@pytest.mark.parametrize(
    ("cache_ttl", "imports"),
    [
        pytest.param(None, 6, id="cached-as-served"),
        pytest.param(timedelta(0), 60, id="every-probe-pings"),
    ],
)
def test_health_probes_beside_imports_never_fail_an_import(
    settings_factory: Callable[..., Settings], cache_ttl: timedelta | None, imports: int
) -> None:
    settings = settings_factory(rate_limit_per_s=0)
    _, key = ApiKeyStore(settings.api_keys_path).create("loader", ["write"])
    app = create_app(settings, start_tasks=False)
    if cache_ttl is not None:
        app.state.health_cache = CachedAnswer(cache_ttl)
    failures: list[str] = []
    probe_statuses: list[int] = []

    with served(app) as url, httpx.Client(base_url=url, timeout=30) as client:

        def probe() -> int:
            return client.get("/health/").status_code

        def load(i: int) -> None:
            response = client.post(
                f"/meters/electricity/m{i}/readings", json=READINGS, headers={"X-API-Key": key}
            )
            if response.status_code != 201:
                failures.append(f"import {i}: {response.status_code} {response.text[:200]}")

        with ThreadPoolExecutor(max_workers=PROBES + 1) as pool:
            for i in range(imports):
                probes = [pool.submit(probe) for _ in range(PROBES)]
                pool.submit(load, i).result()
                probe_statuses += [p.result() for p in probes]
        meters = client.get("/meters/", headers={"X-API-Key": key}).json()

    assert failures == []
    assert set(probe_statuses) == {200} and len(probe_statuses) == PROBES * imports
    assert len(meters) == imports
