"""``/health/live`` latency while big bodies are posted to the running service.

    .venv/bin/python -P bench/big_bodies.py [--rows 240000]

Starts ``energy-forecast serve`` (embedded default, a write key, the default rate limit) on a free
127.0.0.1 port in a temporary ``EF_HOME``. For each case a separate process polls
``GET /health/live`` every 10 ms while this one posts: a 10 MB JSON array to ``/forecast/``
(declared length, then chunked), a readings import of ``--rows`` hourly rows (~14 MB at 240,000),
and the same 10 MB array to the import route. Prints each answer's status, size and time and the
poller's median, p99 and worst latency; then 5 s of ``/health/`` from one address (200 vs 429).
The poller runs in its own process so the client's own work does not hold its interpreter lock.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _poll(base: str, stop: Any, out: Any) -> None:
    latencies = []
    with httpx.Client(base_url=base, timeout=120) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get("/health/live")
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)
    out.put(latencies)


def measure(base: str, label: str, send: Callable[[], httpx.Response]) -> None:
    stop, out = mp.Event(), mp.Queue()
    poller = mp.Process(target=_poll, args=(base, stop, out))
    poller.start()
    time.sleep(0.5)
    started = time.perf_counter()
    response = send()
    took = time.perf_counter() - started
    time.sleep(0.2)
    stop.set()
    latencies = sorted(out.get())
    poller.join()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(
        f"{label}: {response.status_code} ({len(response.content)} bytes) in {took:.2f} s; "
        f"/health/live n={len(latencies)} median {statistics.median(latencies):.1f} ms "
        f"p99 {p99:.1f} ms max {latencies[-1]:.1f} ms"
    )


def _chunks(body: bytes, size: int = 65536) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=240_000)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="ef-bb-")
    env = {**os.environ, "EF_HOME": home, "EF_CONFIG_DIR": f"{home}/cfg", "EF_WEATHER__PROVIDERS": "[]"}
    cli = [sys.executable, "-m", "energy_forecast"]
    created = subprocess.run(
        [*cli, "apikey", "create", "--name", "bench", "--scope", "write"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = next(word for word in created.stdout.split() if word.startswith("ef_"))
    port = _free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health/live").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        headers = {"X-API-Key": key, "content-type": "application/json"}
        client = httpx.Client(base_url=base, timeout=300, headers=headers)
        array = b"[" + b"1," * (5 * 1024 * 1024) + b"1]"
        first = datetime(2000, 1, 1, tzinfo=UTC)
        rows = [
            {
                "timestamp": (first + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "consumption": 1 + i % 24,
            }
            for i in range(args.rows)
        ]
        readings = json.dumps(rows).encode()
        print(f"readings body: {len(readings) / 1e6:.1f} MB, {args.rows} rows")
        measure(base, "10 MB array -> /forecast/", lambda: client.post("/forecast/", content=array))
        measure(
            base,
            "10 MB array -> /forecast/ (chunked)",
            lambda: client.post("/forecast/", content=_chunks(array)),
        )
        measure(
            base,
            "readings import",
            lambda: client.post("/meters/electricity/big/readings", content=readings),
        )
        measure(
            base,
            "10 MB array -> readings import",
            lambda: client.post("/meters/electricity/bad/readings", content=array),
        )
        statuses: Counter[int] = Counter()
        started = time.perf_counter()
        with httpx.Client(base_url=base, timeout=30) as anonymous:
            while time.perf_counter() - started < 5:
                statuses[anonymous.get("/health/").status_code] += 1
        print(f"/health/ for 5 s from one address: {dict(statuses)}")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
