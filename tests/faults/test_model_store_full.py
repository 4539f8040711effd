"""The model directory refuses a write: training fails clearly and the previous model stays active.

Tests run as root here, where permission bits stop no write. Two refusals that bind root too:

- ``RLIMIT_FSIZE``: the kernel refuses to grow any file of this process past a size (``EFBIG``,
  "File too large"), exactly where a full disk would refuse with ``ENOSPC``: half-way through
  writing the booster;
- a regular file where the models directory should be (``ENOTDIR``), as after a botched mount.
"""

from __future__ import annotations

import resource
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from energy_forecast.domain.meters import MeterType
from tests.faults.conftest import TrainingEnv, seed_meters, wait_terminal

pytestmark = pytest.mark.integration

LIMIT_BYTES = 64 * 1024  # a booster of these meters is ~250 kB, its JSON files a few kB


@contextmanager
def file_size_limit(max_bytes: int) -> Iterator[None]:
    """Cap the size of files this process writes; SIGXFSZ ignored so the write fails with EFBIG."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def test_full_disk_fails_the_training_and_keeps_the_previous_model_active(
    training_env: Callable[..., TrainingEnv],
) -> None:
    env = training_env()
    seed_meters(env.store, ["b1"])
    first = wait_terminal(env.queue, env.queue.enqueue_training("b1", "electricity"))
    assert first["status"] == "SUCCESS"
    before, artifacts_before = env.models.load(MeterType.ELECTRICITY, "b1")

    with file_size_limit(LIMIT_BYTES):
        failed = wait_terminal(env.queue, env.queue.enqueue_training("b1", "electricity"))

    assert failed["status"] == "FAILURE"
    assert failed["error"]["error"].startswith("cannot save model of meter 'b1' under ")
    assert "File too large" in failed["error"]["error"]
    after, artifacts_after = env.models.load(MeterType.ELECTRICITY, "b1")
    assert (after.version, after.active) == (before.version, True) == (1, True)
    assert artifacts_after == artifacts_before
    assert [v.version for v in env.models.list_versions(MeterType.ELECTRICITY, "b1")] == [1]
    meter_dir = env.models.meter_dir(MeterType.ELECTRICITY, "b1")
    assert sorted(p.name for p in meter_dir.iterdir()) == ["active.json", "v0001"]  # no half bundle left

    # Space again: the next training succeeds and becomes version 2.
    again = wait_terminal(env.queue, env.queue.enqueue_training("b1", "electricity"))
    assert again["status"] == "SUCCESS"
    assert env.models.get_version(MeterType.ELECTRICITY, "b1").version == 2


def test_models_path_that_is_a_file_fails_the_training_with_the_path(
    training_env: Callable[..., TrainingEnv],
) -> None:
    env = training_env()
    seed_meters(env.store, ["b1"])
    env.models.meter_dir(MeterType.ELECTRICITY, "b1").parent.parent.write_text("not a directory")

    failed = wait_terminal(env.queue, env.queue.enqueue_training("b1", "electricity"))

    assert failed["status"] == "FAILURE"
    assert "cannot save model of meter 'b1'" in failed["error"]["error"]
    assert "Not a directory" in failed["error"]["error"]
    assert env.models.list_models() == []
