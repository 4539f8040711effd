"""A TCP forwarder in front of the real S3 server that a fault test can cut or slow down.

The S3 server itself is shared by the whole test run, so a test never stops it: it points its
store at this proxy instead and breaks the path. Cutting closes the client's connection when a
request line names a marker (a key), as a network partition or a crashed gateway would mid-save;
slowing delays every answer, as an overloaded gateway would.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType

from tests.faults.servers import free_port


class S3FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.delay_s = 0.0
        self.cuts_done = 0
        self._marker = b""
        self._cuts_left = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def cut_requests(self, marker: bytes, times: int) -> None:
        """Drop the connection of the next ``times`` requests whose first line contains ``marker``."""
        with self._lock:
            self._marker, self._cuts_left = marker, times

    def _should_cut(self, chunk: bytes) -> bool:
        with self._lock:
            first_line = chunk.split(b"\r\n", 1)[0]
            if self._cuts_left > 0 and self._marker and self._marker in first_line:
                self._cuts_left -= 1
                self.cuts_done += 1
                return True
            return False

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, requests: bool) -> None:
        try:
            while chunk := source.recv(65536):
                if requests and self._should_cut(chunk):
                    break
                if not requests and self.delay_s:
                    time.sleep(self.delay_s)
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def __enter__(self) -> S3FaultProxy:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopped.set()
        self._listener.close()
        self._thread.join(5)
