"""A small routing layer and a loopback HTTP server for the Graph sandbox.

Routes are plain functions from an `ApiRequest` to an `ApiResponse`, registered on a `Router`
by method and path pattern, so `$batch` can dispatch sub-requests to the same functions without
HTTP, and new areas of Graph (synchronization jobs, provisioning logs, ...) are one `add` away.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bridge.serving import BackgroundHTTPServer


@dataclass(frozen=True)
class ApiRequest:
    """One Graph call, already split: `path` is relative to the version segment (`/users/x`)."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any = None
    caller: str | None = None  # user id the bearer token stands for; None for the app
    in_batch: bool = False


@dataclass
class ApiResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[ApiRequest, "re.Match[str]"], ApiResponse]


class GraphApiError(Exception):
    """Raised by tenant operations; turned into Graph's error envelope by the router."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def resource_not_found(object_id: str) -> GraphApiError:
    """Graph's answer for an id that names nothing (or nothing of the kind asked for)."""
    return GraphApiError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property "
        "objects are not present.",
    )


def graph_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> ApiResponse:
    """Graph's error envelope (see graph-samples/throttling-429.json)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": now,
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }
    return ApiResponse(status, body, {"Content-Type": "application/json", **(headers or {})})


def split_url(raw: str, version_prefix: str) -> tuple[str, dict[str, str]]:
    """Path relative to `version_prefix` and the decoded query of a request URL."""
    parts = urlsplit(raw)
    path = parts.path
    if path.lower().startswith(version_prefix.lower()):
        path = path[len(version_prefix) :]
    if not path.startswith("/"):
        path = "/" + path
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return path, query


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        # Graph matches path segments case-insensitively.
        self._routes.append((method.upper(), re.compile(pattern + r"/?$", re.IGNORECASE), handler))

    def dispatch(self, request: ApiRequest) -> ApiResponse:
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if not match:
                continue
            if method != request.method.upper():
                allowed = True
                continue
            try:
                return handler(request, match)
            except GraphApiError as exc:
                return graph_error(exc.status, exc.code, exc.message)
        if allowed:
            return graph_error(405, "Request_BadRequest", "The HTTP method is not allowed.")
        return graph_error(
            400, "BadRequest", f"Resource not found for the segment '{request.path.strip('/')}'."
        )


App = Callable[[str, str, Mapping[str, str], bytes], ApiResponse]


class LoopbackServer(BackgroundHTTPServer):
    """A threaded HTTP/1.1 server on 127.0.0.1 that hands every call to `app`."""

    def __init__(self, app: App, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _make_handler(app), "graph-sandbox")


def _make_handler(app: App) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections as with Graph
        # Headers and body go out in two writes; with Nagle on, each keep-alive response
        # would wait for the client's delayed ACK (about 40 ms).
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            response = app(self.command, self.path, headers, raw)
            payload = b"" if response.body is None else json.dumps(response.body).encode()
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if payload and not any(h.lower() == "content-type" for h in response.headers):
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            try:
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up first (a read bounded by a deadline): the answer goes
                # nowhere, as Graph's would, and is no server error to print.
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            # Request lines carry no secret, but tests and the demo need a quiet server.
            pass

    return _Handler
