"""Fixtures for the Graph side: a started GraphSandbox on loopback and GraphPimSource instances
pointed at it with the `static` credential. Import the fixtures into a test module to use them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bridge.config import EntraConfig
from bridge.graph.credentials import STATIC_TOKEN_ENV
from bridge.graph.source import GraphPimSource
from bridge.sandbox.graph.sandbox import GraphSandbox
from tests.fakes import FakeClock

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

SourceFactory = Callable[..., GraphPimSource]


@pytest.fixture
def graph_clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def graph_sandbox(graph_clock: FakeClock) -> Iterator[GraphSandbox]:
    with GraphSandbox(clock=graph_clock) as sandbox:
        yield sandbox


@pytest.fixture
def graph_source(
    graph_sandbox: GraphSandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SourceFactory]:
    """Builds sources the way the core does, `GraphPimSource(cfg.entra)`, with test knobs."""
    monkeypatch.setenv(STATIC_TOKEN_ENV, graph_sandbox.token)
    made: list[GraphPimSource] = []

    def make(entra_keys: dict[str, Any] | None = None, **kwargs: Any) -> GraphPimSource:
        """`entra_keys`: more [entra] keys, as in the config file."""
        entra = EntraConfig(credential="static", graph_url=graph_sandbox.url, **(entra_keys or {}))
        kwargs.setdefault("backoff", 0.01)
        source = GraphPimSource(entra, **kwargs)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()
