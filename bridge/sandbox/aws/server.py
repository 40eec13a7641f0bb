"""moto's threaded server on loopback, with a middleware wrapped around its app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


class MotoServer(ThreadedMotoServer):
    """`wrap` receives moto's WSGI app and returns the app to serve."""

    def __init__(self, ip_address: str, port: int, wrap: Callable[[Any], Any]) -> None:
        super().__init__(ip_address, port, verbose=False)
        self._wrap = wrap

    def _server_entry(self) -> None:
        app = self._wrap(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=_QuietHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever(poll_interval=0.05)  # moto's 0.5 s makes every stop slow


class _QuietHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass  # a line per call drowns test output
