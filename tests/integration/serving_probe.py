"""A process serving /healthz and /metrics as `run` does, on a descriptor limit of 256 (the one
the adversarial run hit), for tests/integration/test_serving_limits.py to attack from outside.

It prints its port, then for every line on stdin opens `NEEDED` connections to a listener of
its own, as a revocation's calls to Identity Center would, and prints how many it could open,
its open descriptors and its threads, as JSON."""

from __future__ import annotations

import json
import os
import resource
import socket
import sys
import threading

from bridge.http import HealthServer

FD_LIMIT = 256
NEEDED = 64  # more than a burst of removals and denials ever opens at once


def _probe(listener: socket.socket) -> dict[str, int]:
    opened: list[socket.socket] = []
    try:
        for _ in range(NEEDED):
            try:
                opened.append(socket.create_connection(listener.getsockname(), timeout=2))
            except OSError:
                break
        try:
            descriptors = len(os.listdir("/proc/self/fd"))
        except OSError:  # none left even to list them
            descriptors = FD_LIMIT
        return {
            "opened": len(opened),
            "descriptors": descriptors,
            "threads": threading.active_count(),
        }
    finally:
        for s in opened:
            s.close()


def main() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
    server = HealthServer("127.0.0.1:0", lambda: {"live": True, "ready": True}, lambda: b"")
    server.start()
    listener = socket.create_server(("127.0.0.1", 0), backlog=NEEDED)
    print(server.port, flush=True)
    for _ in sys.stdin:
        print(json.dumps(_probe(listener)), flush=True)
    server.stop()


if __name__ == "__main__":
    main()
