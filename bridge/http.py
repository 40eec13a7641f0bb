"""The `/healthz` and `/metrics` endpoints of `pim-bridge run`, on `service.listen`.

`/healthz` answers 200 while the scheduler runs and the last successful cycle is recent enough
(ready), 503 otherwise, with a JSON body saying which and the last cycle's age. `/metrics` is
Prometheus's text format. Nothing here reads a secret, so nothing here can leak one.

Served within `ServingLimits`: scrapes and probes need little, and whatever a client holds open
here is taken from the process that revokes access.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from bridge.serving import BackgroundHTTPServer, ServingLimits

log = logging.getLogger(__name__)

Status = Callable[[], dict[str, Any]]


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return (host.strip("[]") or "127.0.0.1", int(port))


def serve_health(listen: str, status: Status, metrics: Callable[[], bytes]) -> HealthServer | None:
    """The endpoints started on `listen`; None, logged, when the address cannot be bound."""
    try:
        server = HealthServer(listen, status, metrics)
        server.start()
    except OSError as exc:
        # Revocation matters more than being scraped: run on, loudly.
        log.error("cannot serve /healthz and /metrics on %s: %s", listen, exc)
        return None
    host = listen.rpartition(":")[0] or "127.0.0.1"
    log.warning("serving /healthz and /metrics on http://%s:%d", host, server.port)
    return server


class HealthServer(BackgroundHTTPServer):
    def __init__(
        self,
        listen: str,
        status: Status,
        metrics: Callable[[], bytes],
        limits: ServingLimits | None = None,
    ) -> None:
        super().__init__(
            parse_listen(listen),
            _handler(status, metrics),
            "pim-bridge-http",
            limits or ServingLimits(),
        )


def _handler(status: Status, metrics: Callable[[], bytes]) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/metrics":
                self._send(200, metrics(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                body = status()
                code = 200 if body.get("live") and body.get("ready") else 503
                self._send(code, json.dumps(body).encode(), "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _send(self, code: int, payload: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # scrapes every few seconds would drown the service's own log

    return _Handler
