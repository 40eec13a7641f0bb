"""A webhook receiver on 127.0.0.1 (any free port) that keeps what it is posted: the demo's
notification channel, and the tests' Slack or Teams. It can answer like a receiver in trouble:
an error status, a 429 with Retry-After, or not at all until released."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO


@dataclass(frozen=True)
class Received:
    at: datetime
    path: str
    body: Any


@dataclass
class _Trouble:
    statuses: list[tuple[int, str | None]] = field(default_factory=list)  # (status, Retry-After)
    held: threading.Event | None = None  # set: answer; unset: wait


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.attempts = 0  # every post, answered well or not
        self._trouble = _Trouble()
        self._lock = threading.Lock()

        self._arrived = threading.Condition(self._lock)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook/secret-token"

    def print_to(self, out: TextIO) -> set[str]:
        """Every notice received, a line each; the events among them."""
        got = self.received
        out.write(f"\nNotifications received by the webhook ({len(got)}):\n")
        for r in got:
            n = r.body
            who = " ".join(str(n[k]) for k in ("user", "target") if n.get(k)) or n.get("mapping")
            out.write(f"  {r.at:%H:%M:%S}  {n['event']:16} {who or ''}  {n['detail']}\n")
        return {r.body["event"] for r in got}

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` posts with `status` (and Retry-After, when given)."""
        with self._lock:
            self._trouble.statuses.extend([(status, retry_after)] * times)

    def hold(self) -> None:
        """Answer nothing until `release()`: a receiver that hangs."""
        with self._lock:
            self._trouble.held = threading.Event()

    def release(self) -> None:
        with self._lock:
            held, self._trouble.held = self._trouble.held, None
        if held is not None:
            held.set()

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """The first `count` notifications delivered, waiting up to `timeout` seconds for them."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def wait_attempts(self, count: int, timeout: float = 10) -> int:
        with self._arrived:
            self._arrived.wait_for(lambda: self.attempts >= count, timeout)
            return self.attempts

    def _answer(self, path: str, body: bytes) -> tuple[int, str | None]:
        with self._lock:
            self.attempts += 1
            self._arrived.notify_all()
            held = self._trouble.held
        if held is not None:
            held.wait()
        with self._lock:
            if self._trouble.statuses:
                return self._trouble.statuses.pop(0)
            self.received.append(Received(datetime.now(UTC), path, json.loads(body or b"null")))
            self._arrived.notify_all()
        return 200, None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                status, retry_after = receiver._answer(self.path, self.rfile.read(length))
                self.send_response(status)
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return  # the path carries the secret: no access log

        return Handler


@contextmanager
def running_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()
