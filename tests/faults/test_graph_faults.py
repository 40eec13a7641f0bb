"""Graph misbehaving: 429 storms, 503 outages, calls that never answer, clock skew. The bridge
reads nothing as "everyone deactivated", revokes at the end second from its ledger alone, and
catches up once Graph answers again."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bridge.sandbox.world import World, running_world
from tests.fakes import FakeClock
from tests.faults.conftest import HOUR, Rig, RigFactory, SkewedClock, build_rig

MAPPINGS = {"prod-admin", "breakglass"}


def storm(world: World) -> None:
    world.graph.throttle(10_000, retry_after=0.05, paths=["assignmentScheduleInstances"])


def outage(world: World) -> None:
    world.graph.outage(status=503, retry_after=0.05)


SILENCE = 2.5  # seconds Graph takes to answer: past the read deadline (1 s in these rigs)


def silence(world: World) -> None:
    # Graph accepts the connection and does not answer before the read deadline.
    world.graph.latency = SILENCE


@pytest.mark.parametrize("fault", [storm, outage, silence], ids=["429-storm", "503", "timeout"])
def test_graph_failing_through_an_expiry_removes_nothing_early_and_revokes_on_time(
    make_rig: RigFactory, fault: Callable[[World], None]
) -> None:
    rig = make_rig(source_options={"deadline": 1.0})
    end = rig.activate("alice", length=timedelta(minutes=30))
    rig.activate("bob", length=2 * HOUR)
    rig.activate("carol", "breakglass", length=2 * HOUR)
    first = rig.poll()
    assert first is not None and first.exit_code == 0
    assert rig.members() == {"alice", "bob", "carol"} and rig.assigned() == {"alice", "bob"}

    fault(rig.world)
    rig.advance_to(end - timedelta(seconds=1))
    started = time.monotonic()
    during = rig.poll()
    took = time.monotonic() - started
    assert took < 2.0, f"a poll during the fault took {took:.1f}s, past its 1 s read deadline"
    assert during is not None and during.unreadable == MAPPINGS and during.exit_code == 1
    assert rig.removals() == []
    assert rig.members() == {"alice", "bob", "carol"}

    rig.advance_to(end)  # the expiry timer: ledger only, Graph still failing
    assert rig.members() == {"bob", "carol"} and rig.assigned() == {"bob"}
    rig.advance(1)
    rig.poll()  # still failing, at and after the end: bob and carol stay
    assert rig.members() == {"bob", "carol"}
    rig.advance(1)
    rig.check()

    rig.world.graph.restore()
    after = rig.poll()
    assert after is not None and after.exit_code == 0 and not after.plan.changes
    assert {c["reason"] for c in rig.removals()} == {"expired"}
    rig.check()
    # Let the sandbox finish the answers it was still sleeping on before it stops.
    time.sleep(max(0.0, started + SILENCE + 0.2 - time.monotonic()))


def test_throttled_reads_that_recover_within_the_retries_change_nothing(rig: Rig) -> None:
    rig.activate("alice")
    assert rig.poll() is not None
    rig.world.graph.throttle(2, retry_after=0.05, paths=["assignmentScheduleInstances"])
    result = rig.poll()
    assert result is not None and result.exit_code == 0 and not result.plan.changes
    assert rig.world.graph.requests_served > 0
    assert rig.members() == {"alice"} and rig.removals() == []
    rig.check()


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=5), -timedelta(minutes=5)], ids=["ahead", "behind"]
)
def test_clock_skew_between_graph_and_the_bridge_never_keeps_access_past_its_end(
    clock: FakeClock, world_env: Callable[[World], None], tmp_path: Path, skew: timedelta
) -> None:
    graph_clock = SkewedClock(clock, skew)
    with running_world(graph_clock=graph_clock) as world:
        world_env(world)
        rig = build_rig(world, f"sqlite:///{tmp_path / 'ledger.db'}", clock)
        try:
            start = graph_clock.now()
            end = rig.activate("alice", length=timedelta(minutes=20))
            rig.activate("bob", length=2 * HOUR)
            rig.poll()
            if skew > timedelta(0):
                # Graph says both started 5 minutes in our future: nothing before then.
                assert rig.members() == set() and rig.removals() == []
                rig.advance_to(start)
                rig.poll()
            assert rig.members() == {"alice", "bob"}
            # Poll every 15 s through alice's end, as the service would.
            while clock.now() < end + timedelta(seconds=30):
                rig.advance(15)
                rig.poll()
                if clock.now() >= end + timedelta(seconds=2):
                    assert "alice" not in rig.members(), f"alice kept access at {clock.now()}"
                else:
                    assert "bob" in rig.members()
            assert rig.members() == {"bob"} and rig.assigned() == {"bob"}
            rig.check()
        finally:
            rig.close()
