"""Expiry timers on a virtual clock: revocation happens at the end second, moves with
extensions, survives restarts and Graph outages, and a failed revoke is retried, never done."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.base import STATE_STOPPED

from bridge.config import config_from_dict
from bridge.reconcile import Reconciler
from bridge.service import Service
from bridge.store import Ledger
from bridge.wiring import Bridge
from tests.fakes import FakeClock, FakeIdentityCenter, FakePim, VirtualTimers

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GROUP = "group:gid-AWS-Admin"


class Rig:
    def __init__(
        self,
        tmp: Path,
        pim: FakePim | None = None,
        ic: FakeIdentityCenter | None = None,
        clock: FakeClock | None = None,
        real_timers: bool = False,
    ) -> None:
        self.cfg = config_from_dict(
            {
                "aws": {
                    "identity_store_id": "d-1",
                    "instance_arn": "arn:aws:sso:::instance/ssoins-1",
                },
                "store": {"url": f"sqlite:///{tmp / 'ledger.db'}"},
                "mappings": [
                    {
                        "name": "admins",
                        "entra_group_id": "eg-1",
                        "identity_center_group": "AWS-Admin",
                    }
                ],
            },
            {},
        )
        self.pim = pim or FakePim()
        self.ic = ic or FakeIdentityCenter(["alice@x", "bob@x"])
        self.clock = clock or FakeClock(T0)
        self.ledger = Ledger(self.cfg.store.url)
        rec = Reconciler(self.cfg, self.pim, self.ic, self.ledger, self.clock)
        self.timers = VirtualTimers(self.clock)
        bridge = Bridge(self.cfg, self.pim, self.ic, self.ledger, self.clock, rec)  # type: ignore[arg-type]
        self.service = Service(bridge, None if real_timers else self.timers)

    def holders(self) -> set[str]:
        return self.ic.state.get(GROUP, set())


def test_revocation_fires_at_the_exact_end_second(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    end = T0 + timedelta(minutes=30)
    r.pim.activate("eg-1", "alice@x", T0, end)
    r.service.poll()
    assert r.timers.pending() == {f"expire@{end.isoformat()}": end}
    r.timers.advance_to(end - timedelta(milliseconds=1))
    assert r.holders() == {"u-alice@x"}
    r.timers.advance_to(end)
    assert r.holders() == set()
    assert r.timers.fired == [(f"expire@{end.isoformat()}", end)]


def test_extension_moves_the_timer_and_access_lasts_until_the_new_end(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    first, later = T0 + timedelta(minutes=30), T0 + timedelta(minutes=90)
    iid = r.pim.activate("eg-1", "alice@x", T0, first)
    r.service.poll()
    r.pim.deactivate(iid)
    r.pim.activate("eg-1", "alice@x", T0, later, instance=iid)
    r.clock.advance(15)
    r.service.poll()
    assert list(r.timers.pending().values()) == [later]
    r.timers.advance_to(first + timedelta(seconds=1))
    assert r.holders() == {"u-alice@x"}
    r.timers.advance_to(later)
    assert r.holders() == set()


def test_timers_are_rebuilt_from_the_ledger_after_a_restart(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    end = T0 + timedelta(minutes=30)
    r.pim.activate("eg-1", "alice@x", T0, end)
    r.service.poll()
    # A new process: same ledger, same world, no timers in memory.
    again = Rig(tmp_path, r.pim, r.ic, r.clock)
    assert again.timers.pending() == {}
    again.service.recover()
    assert again.timers.pending() == {f"expire@{end.isoformat()}": end}
    again.timers.advance_to(end)
    assert again.holders() == set()


def test_expiry_missed_while_down_is_revoked_at_once_on_start(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    r.pim.activate("eg-1", "alice@x", T0, T0 + timedelta(minutes=5))
    r.service.poll()
    r.clock.advance(3600)  # the service was down through the end
    r.pim.failing.add("eg-1")  # and Graph is down too
    again = Rig(tmp_path, r.pim, r.ic, r.clock)
    again.service.recover()
    assert again.holders() == set()


def test_revocation_at_expiry_works_through_a_graph_outage(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    end = T0 + timedelta(minutes=10)
    r.pim.activate("eg-1", "alice@x", T0, end)
    r.pim.activate("eg-1", "bob@x", T0, T0 + timedelta(hours=2))
    r.service.poll()
    r.pim.failing.add("eg-1")
    r.clock.advance(60)
    r.service.poll()  # fails to read, removes nothing
    r.timers.advance_to(end)
    assert r.holders() == {"u-bob@x"}


def test_failed_revocation_is_retried_and_never_marked_done(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    end = T0 + timedelta(minutes=10)
    r.pim.activate("eg-1", "alice@x", T0, end)
    r.service.poll()
    r.ic.fail_removes = True
    r.timers.advance_to(end)
    assert r.holders() == {"u-alice@x"}
    [held] = r.ledger.holdings().values()
    assert held.state == "remove_failed"
    assert any(k.startswith("retry@") for k in r.timers.pending())
    r.ic.fail_removes = False
    r.timers.advance_to(end + timedelta(seconds=5))
    assert r.holders() == set()
    assert r.ledger.holdings() == {}
    statuses = [c["status"] for c in r.ledger.changes_since(T0) if c["op"] == "remove"]
    assert statuses == ["failed", "ok"]


def test_stopping_while_a_poll_is_about_to_set_timers_returns(tmp_path: Path) -> None:
    r = Rig(tmp_path, real_timers=True)
    service = r.service
    entered, go = threading.Event(), threading.Event()

    def poll_setting_timers() -> None:
        entered.set()
        go.wait(10)
        service.schedule_expiries()

    service.scheduler.start()
    # An interval job, as the service's poll: a one-shot job's removal after its run would
    # race the shutdown in the scheduler's own thread.
    service.scheduler.add_job(
        poll_setting_timers, "interval", hours=1, next_run_time=datetime.now(UTC), id="poll"
    )
    assert entered.wait(10)
    stopper = threading.Thread(target=service.stop, daemon=True)
    stopper.start()
    while service.scheduler.state != STATE_STOPPED:
        time.sleep(0.01)
    time.sleep(0.2)  # the shutdown now holds the job store while it waits for the poll
    go.set()
    stopper.join(10)

    assert not stopper.is_alive(), "stop() waits forever on a poll that sets a timer"
