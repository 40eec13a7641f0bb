"""The membership watcher against the sandbox over HTTP: Graph's group delta names the groups
whose members PIM changed, and the service reads and plans just those, without waiting for
the poll; what delta cannot say is read or polled, never taken for "no change"."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.base import STATE_STOPPED

from bridge.config import config_from_dict
from bridge.graph.client import GraphSession, RetryPolicy
from bridge.graph.delta import GraphMembershipFeed
from bridge.reconcile import CycleResult
from bridge.sandbox.graph.membership import MembershipDelay
from bridge.sandbox.world import World, running_world
from bridge.service import Service
from bridge.store import Ledger
from bridge.watch import MembershipWatch
from bridge.wiring import build
from tests.fakes import FakeClock, VirtualTimers
from tests.integration.graph_fixtures import T0
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

QUICK = MembershipDelay(0.05, 0.2)  # Entra's 1-3 s, shortened


@pytest.fixture
def world() -> Iterator[World]:
    with running_world() as w:
        w.export_env()
        w.graph.delta.delay = QUICK
        yield w


@pytest.fixture
def start(world: World, tmp_path: Path) -> Iterator[Callable[[], Service]]:
    """Services watching every 2 s with the default poll (5 minutes while watching), on one
    ledger; their jobs are run by hand, so each step is one the test takes (the hour-long
    grants' expiry timers are recorded, never due)."""
    made: list[Service] = []
    data = world.config_dict(f"sqlite:///{tmp_path / 'l.db'}", watch_interval="2s")
    del data["schedule"]["poll_interval"]

    def make() -> Service:
        service = Service(build(config_from_dict(data, {})), VirtualTimers(FakeClock(T0)))
        made.append(service)
        return service

    yield make
    for service in made:
        service.bridge.close()


def watch_until(service: Service, done: Callable[[], bool], timeout: float = 15) -> list[Any]:
    """Watch ticks until `done`, with what each returned."""
    results: list[CycleResult | None] = []
    end = time.monotonic() + timeout
    while not done() and time.monotonic() < end:
        results.append(service.watching.watch())
        time.sleep(0.05)
    assert done(), "not seen within the timeout"
    return results


def activate(world: World, who: str, mapping: str = "prod-admin") -> None:
    world.graph.actor().activate(
        world.entra_users[who], world.entra_groups[mapping], timedelta(hours=1), "INC-7"
    )


def granted_by_watching(world: World, service: Service, who: str) -> str:
    """`who` activates prod-admin and the watcher grants it; their Identity Center id."""
    activate(world, who)
    user = world.ic_users[who]
    watch_until(service, lambda: user in world.ic_members())
    return user


def test_an_activation_is_granted_from_the_delta_without_waiting_for_the_poll(
    world: World, start: Callable[[], Service]
) -> None:
    service = start()
    assert service.bridge.config.schedule.poll_every() == timedelta(minutes=5)
    first = service.watching.watch()  # the initial round reads every member mapping once
    assert first is not None and first.read == {"prod-admin", "breakglass"}
    activate(world, "bob")
    results = watch_until(service, lambda: world.ic_users["bob"] in world.ic_members())
    granting = [r for r in results if r is not None][-1]
    assert granting.kind == "watch"
    assert granting.read == {"prod-admin"}  # only the group whose members changed
    assert [c.user_name for c in granting.applied] == ["bob@example.com"] * 2


def test_an_early_deactivation_is_removed_from_the_delta(
    world: World, start: Callable[[], Service]
) -> None:
    service = start()
    service.watching.watch()
    carol = granted_by_watching(world, service, "carol")
    world.graph.actor().deactivate(world.entra_users["carol"], world.entra_groups["prod-admin"])
    watch_until(
        service, lambda: carol not in world.ic_members() and carol not in world.ic_assigned()
    )


def test_a_restart_resumes_from_the_kept_links_without_a_full_read(
    world: World, start: Callable[[], Service], caplog: pytest.LogCaptureFixture
) -> None:
    first = start()
    assert first.watching.watch() is not None
    first.bridge.close()
    again = start()
    with caplog.at_level(logging.INFO, logger="bridge.watch"):
        assert again.watching.watch() is None  # resumed: nothing changed, nothing read
    assert caplog.records == []
    assert again.status()["ready"] is True  # a quiet look at every group counts as a cycle
    activate(world, "erin", "breakglass")
    results = watch_until(again, lambda: world.ic_users["erin"] in world.ic_members())
    assert [r.read for r in results if r is not None] == [{"breakglass"}]


def test_after_the_startup_poll_the_first_look_reads_only_what_changed_since(
    world: World, start: Callable[[], Service]
) -> None:
    service = start()
    service.recover()  # the startup poll reads every group; the delta rounds began before it
    assert len(service.bridge.ledger.delta_links()) == 1  # kept, for a restart to resume from
    assert service.watching.watch() is None  # nothing changed since: no group read again
    activate(world, "bob", "breakglass")
    results = watch_until(service, lambda: world.ic_users["bob"] in world.ic_members())
    assert [r.read for r in results if r is not None] == [{"breakglass"}]


def test_a_deactivation_keeps_what_another_mapping_grants_on_a_shared_target(
    world: World, start: Callable[[], Service]
) -> None:
    service = start()
    service.watching.watch()
    alice = granted_by_watching(world, service, "alice")
    activate(world, "alice", "breakglass")  # the same Identity Center group, through breakglass
    watch_until(service, lambda: breakglass_grants(service) == 1)
    world.graph.actor().deactivate(world.entra_users["alice"], world.entra_groups["prod-admin"])
    results = watch_until(service, lambda: alice not in world.ic_assigned())
    assert [r.read for r in results if r is not None and r.applied] == [{"prod-admin"}]
    assert alice in world.ic_members()  # breakglass still grants the group, unread this cycle


def breakglass_grants(service: Service) -> int:
    return sum(g.mapping == "breakglass" for g in service.bridge.ledger.live_grants())


def test_an_expired_token_costs_one_full_read_logged_once(
    world: World, start: Callable[[], Service], caplog: pytest.LogCaptureFixture
) -> None:
    service = start()
    service.watching.watch()
    world.graph.delta.expire_tokens()
    with caplog.at_level(logging.WARNING, logger="bridge.watch"):
        resync = service.watching.watch()
        assert service.watching.watch() is None  # the fresh links hold: nothing more to read
    assert resync is not None and resync.read == {"prod-admin", "breakglass"}
    assert [r.getMessage() for r in caplog.records] == [
        "membership delta: 1 state token(s) expired; reading their 2 group(s) in full"
    ]


@pytest.mark.parametrize("status", [403, 404, 501])
def test_without_delta_the_service_polls_and_says_so_once(
    world: World, start: Callable[[], Service], caplog: pytest.LogCaptureFixture, status: int
) -> None:
    world.graph.delta.refusal = status
    service = start()
    with caplog.at_level(logging.WARNING):
        assert service.watching.watch() is None
        assert service.watching.watch() is None
    said = [r.getMessage() for r in caplog.records if "delta" in r.getMessage()]
    assert len(said) == 1 and said[0].startswith("membership delta unavailable (")
    watch = service.status()["watch"]
    assert watch["state"] == "unavailable" and f"HTTP {status}" in watch["reason"]
    # Readiness follows the 15 s poll that now stands in for the watcher.
    assert service.status()["ready_within_seconds"] == 60


def test_a_failed_delta_page_reads_its_groups_rather_than_assuming_no_change(
    world: World, start: Callable[[], Service], caplog: pytest.LogCaptureFixture
) -> None:
    service = start()
    service.watching.watch()
    world.graph.delta.delay = MembershipDelay(3600, 3600)  # delta cannot see this activation
    activate(world, "frank")
    world.graph.delta.broken_pages = 1
    with caplog.at_level(logging.WARNING, logger="bridge.watch"):
        result = service.watching.watch()
    assert result is not None and result.read == {"prod-admin", "breakglass"}
    assert world.ic_users["frank"] in world.ic_members()
    assert any("unreadable, reading them instead" in r.getMessage() for r in caplog.records)


def test_a_delta_outage_carries_every_grant_and_reads_again(
    world: World, start: Callable[[], Service]
) -> None:
    service = start()
    service.watching.watch()
    bob = granted_by_watching(world, service, "bob")
    world.graph.outage(status=500)  # delta and the schedule instances alike
    result = service.watching.watch()
    assert result is not None
    assert result.unreadable == {"prod-admin", "breakglass"}  # as on the poll: carried
    assert result.plan.removes == () and bob in world.ic_members()


def test_a_replayed_change_changes_nothing(world: World, start: Callable[[], Service]) -> None:
    service = start()
    service.watching.watch()
    before = service.bridge.ledger.delta_links()
    granted_by_watching(world, service, "bob")
    service.bridge.close()
    again = start()
    groups = sorted(world.entra_groups.values())
    for key, link in before.items():  # the round that saw bob join, once more
        again.bridge.ledger.keep_delta_link(key, groups, link, T0)
    result = again.watching.watch()
    assert result is not None and result.read == {"prod-admin"}
    assert result.plan.empty and world.ic_users["bob"] in world.ic_members()


def test_more_than_fifty_groups_are_watched_in_queries_of_fifty(
    world: World, tmp_path: Path
) -> None:
    groups = [world.graph.add_group(f"PIM-team-{i}") for i in range(120)]
    entra = world.config(f"sqlite:///{tmp_path / 'l.db'}").entra
    session = GraphSession(entra)
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    try:
        feed = GraphMembershipFeed(entra, session, RetryPolicy(backoff=0.01))
        watcher = MembershipWatch(feed, ledger, FakeClock(T0))
        assert watcher.tick(groups).changed == frozenset(groups)  # the initial rounds
        assert len(ledger.delta_links()) == 3  # 50 + 50 + 20
        eve = world.graph.add_user("eve@example.com")
        world.graph.add_eligibility(eve, groups[99])
        world.graph.actor().activate(eve, groups[99], timedelta(hours=1), "x")
        deadline = time.monotonic() + 10
        changed: frozenset[str] = frozenset()
        while not changed and time.monotonic() < deadline:
            changed = watcher.tick(groups).changed
        assert changed == {groups[99]}
    finally:
        ledger.close()
        session.close()


def test_an_owner_mapping_delta_cannot_see_is_read_by_its_own_fast_poll(
    world: World, tmp_path: Path
) -> None:
    data = world.config_dict(f"sqlite:///{tmp_path / 'o.db'}", watch_interval="2s")
    del data["schedule"]["poll_interval"]
    data["mappings"].append(
        {
            "name": "prod-owners",
            "entra_group_id": world.entra_groups["prod-admin"],
            "access": "owner",
            "identity_center_group": world.ic_group_name,
        }
    )
    service = Service(build(config_from_dict(data, {})), VirtualTimers(FakeClock(T0)))
    try:
        assert service.bridge.config.schedule.unwatched_every == timedelta(seconds=15)
        world.graph.add_eligibility(
            world.entra_users["alice"], world.entra_groups["prod-admin"], "owner"
        )
        world.graph.actor().activate(
            world.entra_users["alice"],
            world.entra_groups["prod-admin"],
            timedelta(hours=1),
            "INC-8",
            access_id="owner",
        )
        result = service.watching.poll_unwatched()
        assert result is not None and result.read == {"prod-owners"}
        assert world.ic_users["alice"] in world.ic_members()
    finally:
        service.bridge.close()


def test_a_stop_while_a_look_finds_delta_gone_returns(
    world: World, start: Callable[[], Service]
) -> None:
    """The look that finds Graph offering no delta slows the full poll down; run while the
    scheduler shuts down (which holds its job store until its running jobs end), it must not
    wait on the scheduler, or the stop never returns."""
    service = start()
    world.graph.delta.refusal = 403
    service.scheduler.start()
    service.scheduler.add_job(lambda: None, "interval", hours=1, id="poll")
    looking, go = threading.Event(), threading.Event()

    def look_during_the_stop() -> None:
        looking.set()
        go.wait(10)
        service.watching.watch()

    service.scheduler.add_job(look_during_the_stop)
    assert looking.wait(10)
    stopper = threading.Thread(target=service.stop, daemon=True)
    stopper.start()
    assert wait_for(lambda: service.scheduler.state == STATE_STOPPED, 10)
    time.sleep(0.2)  # for the shutdown to take the job store: it says nothing when it has
    go.set()
    stopper.join(20)
    assert not stopper.is_alive(), "stop() hung on a look that rescheduled the poll"
    assert not service.watching.delta_available
