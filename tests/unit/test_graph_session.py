"""Both Graph readers, the PIM source and the health reader, over one `GraphSession` design:
they retry the same statuses, honour Retry-After the same way, and give up alike. Graph is
mocked at the HTTP layer (respx) on a loopback URL, so the real wire is exercised."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from bridge.config import EntraConfig
from bridge.errors import Unreadable
from bridge.graph.client import GraphSession
from bridge.graph.credentials import StaticTokenCredential
from bridge.graph.health_reads import GraphHealthReader
from bridge.graph.source import GraphPimSource

BASE = "http://127.0.0.1:9/v1.0"
GROUP = "11111111-1111-1111-1111-111111111111"
ENTRA = EntraConfig(credential="static", graph_url=BASE)

Reader = Callable[[int], bool]  # max_retries -> whether the read succeeded


def read_pim(max_retries: int) -> bool:
    credential = StaticTokenCredential("test-token")
    with GraphPimSource(ENTRA, max_retries=max_retries, backoff=0, credential=credential) as src:
        return src.read_groups([GROUP])[GROUP].ok


def read_health(max_retries: int) -> bool:
    credential = StaticTokenCredential("test-token")
    reader = GraphHealthReader(ENTRA, max_retries=max_retries, backoff=0, credential=credential)
    try:
        return not isinstance(reader.app_credentials("app-1"), Unreadable)
    finally:
        reader.close()


READERS = pytest.mark.parametrize("read", [read_pim, read_health], ids=["pim", "health"])


@pytest.fixture
def graph() -> Iterator[respx.Router]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


def answers(graph: respx.Router, *replies: httpx.Response | Exception) -> respx.Route:
    """Every GET answers `replies` in turn, then an empty success."""
    ok = httpx.Response(200, json={"value": []})
    return graph.get().mock(side_effect=[*replies, *[ok] * 10])


@READERS
@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_both_readers_retry_the_same_statuses(
    graph: respx.Router, read: Reader, status: int
) -> None:
    route = answers(graph, httpx.Response(status, headers={"Retry-After": "0"}))
    assert read(2)
    assert route.call_count == 2


@READERS
@pytest.mark.parametrize("status", [400, 403, 500])
def test_both_readers_fail_other_statuses_without_retrying(
    graph: respx.Router, read: Reader, status: int
) -> None:
    route = answers(graph, httpx.Response(status))
    assert not read(2)
    assert route.call_count == 1


@READERS
def test_both_readers_give_up_after_max_retries(graph: respx.Router, read: Reader) -> None:
    route = graph.get().mock(return_value=httpx.Response(503, headers={"Retry-After": "0"}))
    assert not read(2)
    assert route.call_count == 3


@READERS
def test_both_readers_retry_network_failures_like_an_outage(
    graph: respx.Router, read: Reader
) -> None:
    route = answers(graph, httpx.ConnectError("connection refused"))
    assert read(1)
    assert route.call_count == 2


@READERS
def test_both_readers_wait_until_an_http_date_retry_after(
    graph: respx.Router, read: Reader
) -> None:
    # HTTP-dates have whole seconds: two ahead is a wait of more than one.
    until = datetime.now(UTC) + timedelta(seconds=2)
    header = format_datetime(until, usegmt=True)
    route = answers(graph, httpx.Response(429, headers={"Retry-After": header}))

    started = time.monotonic()
    assert read(1)

    assert route.call_count == 2
    assert time.monotonic() - started >= 1.0


def test_readers_can_share_one_session_which_outlives_them(graph: respx.Router) -> None:
    answers(graph)
    session = GraphSession(ENTRA, StaticTokenCredential("test-token"), name="graph-shared")
    source = GraphPimSource(ENTRA, session=session)
    health = GraphHealthReader(ENTRA, session=session)
    try:
        assert source.read_groups([GROUP])[GROUP].ok
        assert health.app_credentials("app-1") == []
        source.close()
        health.close()
        assert [t.name for t in threading.enumerate()].count("graph-shared") == 1
        assert source.read_groups([GROUP])[GROUP].ok
    finally:
        session.close()
    assert "graph-shared" not in [t.name for t in threading.enumerate()]


def test_a_session_and_a_credential_together_are_refused() -> None:
    session = GraphSession(ENTRA, StaticTokenCredential("test-token"))
    with pytest.raises(ValueError):
        GraphPimSource(ENTRA, session=session, credential=StaticTokenCredential("other"))
    with pytest.raises(ValueError):
        GraphHealthReader(ENTRA, session=session, credential=StaticTokenCredential("other"))
