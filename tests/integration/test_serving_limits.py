"""/healthz and /metrics under a client that opens connections and sends nothing, over real
sockets: the serving process keeps the descriptors and threads a revocation needs, closes the
idle connections itself, and answers a scrape again once they are gone."""

from __future__ import annotations

import json
import os
import resource
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bridge.serving import ServingLimits
from tests.integration.serving_probe import FD_LIMIT, NEEDED

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parent.parent.parent
ATTACKERS = 300
LIMITS = ServingLimits()


class Probe:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        assert proc.stdout is not None
        self.port = int(proc.stdout.readline())

    def ask(self) -> dict[str, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("probe\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())


@pytest.fixture
def probe() -> Iterator[Probe]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < ATTACKERS + 64:
        pytest.skip(f"this test opens {ATTACKERS} sockets; the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < ATTACKERS + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ATTACKERS + 64, hard))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.serving_probe"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        yield Probe(proc)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _idle_connections(port: int, n: int) -> list[socket.socket]:
    """Up to `n` connections, none of which ever sends a byte: opened one after another, paced
    so as not to overrun the server's accept queue, until the server stops taking them."""
    out: list[socket.socket] = []
    refused = 0
    while len(out) + refused < n and refused < 3:
        s = socket.socket()
        s.settimeout(1)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            refused += 1
            continue
        s.setblocking(False)
        out.append(s)
        time.sleep(0.003)
    return out


def _all_closed_by_server(socks: list[socket.socket], within: float) -> bool:
    """Whether the server closed (or reset, or refused) every one of `socks` in time."""
    open_ = list(socks)
    end = time.monotonic() + within
    while open_ and time.monotonic() < end:
        readable, _, _ = select.select(open_, [], [], 0.2)
        for s in readable:
            try:
                if s.recv(1) == b"":
                    open_.remove(s)
            except BlockingIOError:
                continue
            except OSError:
                open_.remove(s)
    return not open_


def test_300_idle_connections_leave_a_revocation_its_descriptors_and_threads(
    probe: Probe,
) -> None:
    idle = _idle_connections(probe.port, ATTACKERS)
    try:
        time.sleep(0.5)  # let the server accept what it will
        seen = probe.ask()
        assert seen["opened"] == NEEDED, seen
        # The listener, the connections in service and the process's own few: well inside.
        assert seen["descriptors"] <= LIMITS.max_connections + NEEDED + 32, seen
        assert seen["descriptors"] < FD_LIMIT, seen
        assert seen["threads"] <= LIMITS.workers + 8, seen
    finally:
        for s in idle:
            s.close()


def test_idle_connections_are_closed_by_the_server_and_scrapes_answer_again(
    probe: Probe,
) -> None:
    idle = _idle_connections(probe.port, ATTACKERS)
    try:
        assert _all_closed_by_server(idle, LIMITS.read_timeout + LIMITS.idle_timeout + 5)
        started = time.monotonic()
        reply = httpx.get(f"http://127.0.0.1:{probe.port}/healthz", timeout=5)
        assert reply.status_code == 200 and time.monotonic() - started < 2
    finally:
        for s in idle:
            s.close()


def test_a_client_trickling_its_request_is_cut_off_at_the_read_timeout(probe: Probe) -> None:
    with socket.create_connection(("127.0.0.1", probe.port)) as s:
        s.settimeout(LIMITS.read_timeout + 5)
        started = time.monotonic()
        closed = False
        for byte in b"GET /healthz HTTP/1.0\r\nX-Slow: " + b"a" * 100:
            try:
                s.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(LIMITS.idle_timeout / 2)
            if time.monotonic() - started > LIMITS.read_timeout + 2:
                break
        if not closed:
            s.setblocking(False)
            closed = _all_closed_by_server([s], 3)
        assert closed
        assert time.monotonic() - started < LIMITS.read_timeout + 3
