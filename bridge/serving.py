"""HTTP servers run in a daemon thread.

The service's /healthz and /metrics use `BoundedHTTPServer`: a fixed pool of handler threads, a
cap on open connections, and timeouts on every read. Its port may be reachable from the whole
network (the image binds 0.0.0.0), and the process that answers scrapes is the one that revokes
access at the end second: a client holding connections open must not take the descriptors or
threads a revocation needs. The Graph sandbox serves keep-alive connections to the tests and
keeps the unbounded `ThreadingHTTPServer`.
"""

from __future__ import annotations

import io
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from socketserver import BaseServer
from typing import Any, cast

log = logging.getLogger(__name__)

Address = tuple[str, int]


@dataclass(frozen=True)
class ServingLimits:
    """What one client may hold of the serving process, at most."""

    workers: int = 4  # handler threads: requests served at the same time
    # Open connections, served or waiting for a worker; beyond this a new one is closed at
    # once. With the listening socket, the most descriptors serving can ever take.
    max_connections: int = 16
    # The whole request must have arrived this long after it was accepted, time spent waiting
    # for a worker included: a client trickling a byte at a time is cut off too.
    read_timeout: float = 5.0
    # A connection that sends (or takes) nothing for this long is closed.
    idle_timeout: float = 2.0


class _DeadlineReader(io.RawIOBase):
    """A socket's reads, each within `idle` seconds and all of them before `deadline`."""

    def __init__(self, sock: socket.socket, deadline: float, idle: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._idle = idle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request not read within the read timeout")
        self._sock.settimeout(min(self._idle, left))
        try:
            return self._sock.recv_into(buffer)
        finally:
            # The response's writes get the idle timeout, not what was left of the deadline.
            self._sock.settimeout(self._idle)


class _Connection:
    """An accepted socket whose `makefile("rb")` reads within the connection's deadline;
    everything else is the socket's."""

    def __init__(self, sock: socket.socket, deadline: float, idle: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._idle = idle

    def makefile(self, mode: str = "r", buffering: int = -1, **kwargs: Any) -> Any:
        if mode == "rb":
            raw = _DeadlineReader(self._sock, self._deadline, self._idle)
            return io.BufferedReader(raw, buffering if buffering > 0 else io.DEFAULT_BUFFER_SIZE)
        make: Any = self._sock.makefile  # the text modes' overloads are the socket's own
        return make(mode, buffering, **kwargs)

    def settimeout(self, _value: float | None) -> None:
        # A handler class's own `timeout` must not lift the limits.
        self._sock.settimeout(self._idle)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class BoundedHTTPServer(HTTPServer):
    """Accepts in one thread, serves in `limits.workers` threads, and never holds more than
    `limits.max_connections` connections open."""

    # Connections the kernel holds until accepted: no descriptor of ours. A deep queue lets a
    # burst be accepted and refused quickly rather than leave clients retrying their SYNs.
    request_queue_size = 128

    def __init__(
        self, address: Address, handler: type[BaseHTTPRequestHandler], limits: ServingLimits
    ) -> None:
        super().__init__(address, handler)
        self.limits = limits
        self.refused = 0  # connections closed unserved because the cap was reached
        self._open = 0
        self._count = threading.Lock()
        self._waiting: queue.Queue[tuple[socket.socket, Address, float] | None] = queue.Queue()
        self._workers = [
            threading.Thread(target=self._work, name=f"http-worker-{i}", daemon=True)
            for i in range(limits.workers)
        ]
        for worker in self._workers:
            worker.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._count:
            full = self._open >= self.limits.max_connections
            if not full:
                self._open += 1
        if full:
            self.refused += 1
            self.shutdown_request(request)
            return
        self._waiting.put((request, client_address, time.monotonic() + self.limits.read_timeout))

    def _work(self) -> None:
        while (item := self._waiting.get()) is not None:
            request, client_address, deadline = item
            try:
                if time.monotonic() < deadline:
                    request.settimeout(self.limits.idle_timeout)
                    conn = _Connection(request, deadline, self.limits.idle_timeout)
                    # A socket in all the handler uses, with deadlines on reading.
                    self.finish_request(cast("socket.socket", conn), client_address)
            except OSError:
                pass  # a peer that went away or timed out: nothing to answer
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)
                with self._count:
                    self._open -= 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.exception("serving a request failed")

    def server_close(self) -> None:
        super().server_close()
        for _ in self._workers:
            self._waiting.put(None)
        for worker in self._workers:
            worker.join(timeout=self.limits.read_timeout + self.limits.idle_timeout)


class BackgroundHTTPServer:
    """An HTTP server whose accept loop runs in a daemon thread: bounded by `limits` when
    given, else one thread per connection."""

    def __init__(
        self,
        address: Address,
        handler: type[BaseHTTPRequestHandler],
        name: str,
        limits: ServingLimits | None = None,
    ) -> None:
        self._httpd: BaseServer
        if limits is None:
            threading_server = ThreadingHTTPServer(address, handler)
            threading_server.daemon_threads = True
            self._httpd = threading_server
        else:
            self._httpd = BoundedHTTPServer(address, handler, limits)
        self._name = name
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        address = self._httpd.server_address
        assert isinstance(address, tuple)  # an IPv4 or IPv6 server, never a Unix socket
        return int(address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name=self._name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
