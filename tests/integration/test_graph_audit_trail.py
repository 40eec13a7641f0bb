"""What PIM's requests add to a grant's audit trail, read by GraphPimSource from the Graph
sandbox over real HTTP: every justification in order, the ticket's system, and PIM's own time of
a deactivation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from bridge.graph.source import GraphPimSource
from bridge.sandbox.graph.sandbox import GraphSandbox
from tests.fakes import FakeClock

pytest_plugins = ("tests.integration.graph_fixtures",)

pytestmark = pytest.mark.integration
HOUR = timedelta(hours=1)
SourceFactory = Callable[..., GraphPimSource]


def _eligible(sb: GraphSandbox) -> tuple[str, str]:
    group = sb.add_group("prod")
    alice = sb.add_user("alice@contoso.test", "Alice")
    sb.add_eligibility(alice, group)
    return group, alice


def test_an_extension_reason_follows_the_activation_reason_and_the_ticket_names_its_system(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory, graph_clock: FakeClock
) -> None:
    group, alice = _eligible(graph_sandbox)
    actor = graph_sandbox.actor()
    actor.activate(alice, group, HOUR, "INC-4711 hotfix", ticket="INC-4711")
    source = graph_source()
    source.read_groups([group])
    graph_clock.advance(600)
    actor.extend(alice, group, HOUR, "needs longer")

    (inst,) = source.read_groups([group])[group].instances

    assert inst.justification == "INC-4711 hotfix | needs longer"
    assert (inst.ticket, inst.ticket_system) == ("INC-4711", "sandbox")


def test_an_early_deactivation_comes_with_pims_own_request_time(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory, graph_clock: FakeClock
) -> None:
    group, alice = _eligible(graph_sandbox)
    actor = graph_sandbox.actor()
    iid = actor.activate(alice, group, HOUR, "quick look")
    source = graph_source()
    assert source.read_groups([group])[group].instances
    graph_clock.advance(120)
    asked = graph_clock.now()
    actor.deactivate(alice, group)
    graph_clock.advance(14)  # the bridge's next poll comes later

    read = source.read_groups([group])[group]

    assert read.instances == ()
    assert read.ended == {iid: asked}


def test_an_instance_that_expired_has_no_deactivation_time(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory, graph_clock: FakeClock
) -> None:
    group, alice = _eligible(graph_sandbox)
    graph_sandbox.actor().activate(alice, group, HOUR, "routine")
    source = graph_source()
    source.read_groups([group])
    graph_clock.advance(HOUR.total_seconds() + 1)

    read = source.read_groups([group])[group]

    assert read.instances == () and read.ended == {}
