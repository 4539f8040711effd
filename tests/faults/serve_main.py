"""The real command line with one test hook: ``python -m tests.faults.serve_main serve --port N``.

With ``EF_TEST_PAUSE_AT_SAVE=N`` and ``EF_TEST_MARKER=path``, the worker thread that writes the
N-th model bundle of this process (its first fsync of a file inside a ``.tmp-*`` directory) creates
the marker file and sleeps there, so a test can SIGKILL ``serve`` with that task at SAVING_MODEL,
a half-written bundle on disk and the other worker threads still busy.

With ``EF_TEST_PAUSE_AFTER_SAVE=N`` instead, the thread sleeps once the N-th bundle has been
renamed into place (the fsync of its meter directory), before the active pointer is written and
before the task's SUCCESS: a whole version exists that no task record knows of.

The hook wraps ``os.fsync`` in this process only; no module of the package is replaced.
Everything else is ``cli.main``.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from energy_forecast.cli import main


def _pause_at_bundle(n: int, marker: Path, *, committed: bool) -> None:
    real_fsync = os.fsync
    bundles: set[str] = set()
    commits = 0
    lock = threading.Lock()

    def fsync(fd: int) -> None:
        nonlocal commits
        real_fsync(fd)
        path = os.readlink(f"/proc/self/fd/{fd}")
        if committed:
            if "/models/" not in path or "/.tmp-" in path or not os.path.isdir(path):
                return
            with lock:
                commits += 1
                paused = commits == n
            if paused:
                marker.write_text(path, encoding="utf-8")
                time.sleep(300)
            return
        if "/.tmp-" not in path:
            return
        bundle = path.rsplit("/", 1)[0]
        with lock:
            first_file = bundle not in bundles
            bundles.add(bundle)
            paused = first_file and len(bundles) == n
        if paused:
            marker.write_text(bundle, encoding="utf-8")
            time.sleep(300)  # the test kills us here

    os.fsync = fsync


if __name__ == "__main__":
    for variable, committed in (("EF_TEST_PAUSE_AT_SAVE", False), ("EF_TEST_PAUSE_AFTER_SAVE", True)):
        if os.environ.get(variable):
            _pause_at_bundle(
                int(os.environ[variable]), Path(os.environ["EF_TEST_MARKER"]), committed=committed
            )
    main()
