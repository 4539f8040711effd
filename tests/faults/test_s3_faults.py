"""The S3 model store when the object store fails: unreachable mid-save, slow, raced by two hosts.

Every test runs against the real SeaweedFS server of ``scripts/servers.sh``; faults are injected
by ``S3FaultProxy`` on the path to it, so the shared server is never stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest

from energy_forecast.domain.meters import MeterType
from energy_forecast.errors import StorageError
from energy_forecast.storage.s3_model_store import S3ModelStore
from tests.faults.conftest import TrainingEnv, seed_meters, wait_terminal
from tests.faults.s3_proxy import S3FaultProxy

pytestmark = pytest.mark.integration
ELEC = MeterType.ELECTRICITY


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[S3FaultProxy]:
    with S3FaultProxy(int(urlsplit(s3_endpoint).port or 80)) as running:
        yield running


def test_s3_unreachable_during_a_save_fails_as_connection_error_and_keeps_the_active_version(
    training_env: Callable[..., TrainingEnv], proxy: S3FaultProxy, s3_store_url: str
) -> None:
    models = S3ModelStore.from_url(s3_store_url, endpoint_url=proxy.url, timeout_s=2, max_attempts=2)
    env = training_env(models=models)
    seed_meters(env.store, ["b1"])
    assert wait_terminal(env.queue, env.queue.enqueue_training("b1", "electricity"))["status"] == "SUCCESS"

    # The artifacts of version 2 reach S3, then the path breaks as its manifest is written.
    proxy.cut_requests(b"/v0002.json", times=2)
    failed = wait_terminal(env.queue, env.queue.enqueue_training("b1", "electricity"))

    assert failed["status"] == "FAILURE" and failed["error"]["error_type"] == "CONNECTION_ERROR"
    assert "did not answer" in failed["error"]["error"] and proxy.cuts_done == 2
    other_host = S3ModelStore.from_url(s3_store_url, endpoint_url=proxy.url)
    assert [v.version for v in other_host.list_versions(ELEC, "b1")] == [1]  # nothing half-visible
    assert other_host.get_version(ELEC, "b1").version == 1


def test_a_save_that_lost_s3_is_retried_and_its_retry_becomes_active(
    training_env: Callable[..., TrainingEnv], proxy: S3FaultProxy, s3_store_url: str
) -> None:
    models = S3ModelStore.from_url(s3_store_url, endpoint_url=proxy.url, timeout_s=2, max_attempts=2)
    env = training_env(models=models, max_retries=2)
    seed_meters(env.store, ["b1"])
    proxy.cut_requests(b"/v0001.json", times=2)  # both client attempts of the first delivery

    task_id = env.queue.enqueue_training("b1", "electricity")
    status = wait_terminal(env.queue, task_id, timeout=90)

    assert status["status"] == "SUCCESS", status
    retries = [e for _, e in env.queue.events(task_id) if e["details"].get("retries")]
    assert retries and retries[0]["details"]["error_type"] == "CONNECTION_ERROR"
    assert [v.version for v in models.list_versions(ELEC, "b1")] == [1]
    assert models.get_version(ELEC, "b1").active


def test_a_slow_s3_fails_within_the_timeout_and_keeps_the_active_version(
    proxy: S3FaultProxy, s3_store_url: str
) -> None:
    store = S3ModelStore.from_url(s3_store_url, endpoint_url=proxy.url, timeout_s=0.5, max_attempts=2)
    store.save(ELEC, "m1", {"model.ubj": b"good"}, {})
    proxy.delay_s = 3.0

    started = time.monotonic()
    with pytest.raises(StorageError, match="did not answer"):
        store.save(ELEC, "m1", {"model.ubj": b"late"}, {})
    elapsed = time.monotonic() - started

    assert elapsed < 15  # two attempts of 0.5 s each and a backoff, not the 3 s x retries x requests
    proxy.delay_s = 0.0
    fresh = S3ModelStore.from_url(s3_store_url, endpoint_url=proxy.url)
    assert fresh.load(ELEC, "m1")[1] == {"model.ubj": b"good"}


def test_two_hosts_saving_the_same_meter_at_once_leave_whole_versions_and_one_active(
    s3_endpoint: str, s3_store_url: str
) -> None:
    hosts = {name: S3ModelStore.from_url(s3_store_url, endpoint_url=s3_endpoint) for name in ("a", "b")}
    hosts["a"].ping()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def save_four(name: str) -> None:
        start.wait()
        try:
            for i in range(4):
                payload = f"{name}{i}".encode()
                hosts[name].save(
                    ELEC, "m1", {"model.ubj": payload, "spec.json": payload}, {"writer": f"{name}{i}"}
                )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=save_four, args=(name,)) for name in hosts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    reader = S3ModelStore.from_url(s3_store_url, endpoint_url=s3_endpoint)
    versions = reader.list_versions(ELEC, "m1")
    assert [v.version for v in versions] == list(range(1, 9))
    assert sorted(v.metadata["writer"] for v in versions) == ["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3"]
    for version in versions:  # every version is whole: its own writer's artifacts, both of them
        writer = version.metadata["writer"].encode()
        assert reader.load(ELEC, "m1", version.version)[1] == {"model.ubj": writer, "spec.json": writer}
    assert [v.version for v in versions if v.active] == [8]  # a save never replaces a newer version
