"""No access the bridge granted outlives its PIM end: each way it was once broken, replayed on
a virtual clock against in-memory ports, the real reconciler, ledger and expiry jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.clockwatch import ClockWatch
from bridge.config import Config, config_from_dict
from bridge.errors import SinkError
from bridge.model import Change, Reason
from bridge.ports import PimInstance
from bridge.reconcile import CycleResult, Reconciler
from bridge.revoke import SessionDenial
from bridge.service import Service
from bridge.store import Ledger
from bridge.wiring import Bridge
from tests.fakes import FakeClock, FakeIdentityCenter, FakePim, VirtualTimers

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ADMIN = "group:gid-AWS-Admin"
TEMP = "group:gid-AWS-Temp"
USERS = [f"u{i}@x" for i in range(8)]


def mapping(name: str, group: str, entra: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "entra_group_id": entra, "identity_center_group": group, **extra}


ADMINS = mapping("admins", "AWS-Admin", "eg-1")
TEMPS = mapping("temp", "AWS-Temp", "eg-2")


class Crash(BaseException):
    """The process dies: nothing after the raise runs, nothing catches it."""


class WorldIC(FakeIdentityCenter):
    """Identity Center whose group names can be renamed and whose next creation can be the
    last thing a process does."""

    def __init__(self) -> None:
        super().__init__(USERS)
        self.renamed: set[str] = set()
        self.throttled = False
        self.crash_on_add = False
        self.unowned: set[str] = set()  # group ids whose description lacks the bridge's mark

    def resolve_group(self, name_or_id: str) -> str:
        if self.throttled:
            raise SinkError("ThrottlingException: Rate exceeded", temporary=True)
        if name_or_id in self.renamed:
            raise SinkError(f"no group named {name_or_id!r}", temporary=False)
        return super().resolve_group(name_or_id)

    def group_owned(self, group_id: str) -> bool:
        return group_id not in self.unowned

    def add(self, user_id: str, target: Any) -> None:
        super().add(user_id, target)
        if self.crash_on_add:
            raise Crash


class Rig:
    def __init__(
        self,
        tmp: Path,
        mappings: list[dict[str, Any]],
        *,
        world: Rig | None = None,
        max_removals: int = 50,
    ) -> None:
        self.tmp = tmp
        self.cfg: Config = config_from_dict(
            {
                "aws": {
                    "identity_store_id": "d-1",
                    "instance_arn": "arn:aws:sso:::instance/ssoins-1",
                },
                "store": {"url": f"sqlite:///{tmp / 'ledger.db'}"},
                "safety": {"max_removals_per_cycle": max_removals},
                "mappings": mappings,
            },
            {},
        )
        self.pim = world.pim if world else FakePim()
        self.ic = world.ic if world else WorldIC()
        self.clock = world.clock if world else FakeClock(T0)
        self.denied: list[tuple[str, datetime]] = world.denied if world else []
        self.ledger = Ledger(self.cfg.store.url)
        watch = ClockWatch(self.clock)
        denial = SessionDenial(self._deny, None, self.ledger.ends_within, watch.bounding())
        self.rec = Reconciler(
            self.cfg, self.pim, self.ic, self.ledger, self.clock, denial=denial, watch=watch
        )
        self.timers = VirtualTimers(self.clock)
        bridge = Bridge(self.cfg, self.pim, self.ic, self.ledger, self.clock, self.rec)  # type: ignore[arg-type]
        self.service = Service(bridge, self.timers)

    def _deny(self, changes: list[Change], before: datetime) -> None:
        self.denied.extend((c.binding.ic_user_id, before) for c in changes)

    def restart(self, mappings: list[dict[str, Any]] | None = None, **kw: Any) -> Rig:
        """A new process on the same ledger and world, perhaps with an edited config."""
        self.ledger.close()
        again = Rig(self.tmp, mappings or self.cfg.model_dump()["mappings"], world=self, **kw)
        again.service.recover()
        return again

    def holders(self, key: str = ADMIN) -> set[str]:
        return set(self.ic.state.get(key, set()))

    def activate(self, who: str, minutes: float, group: str = "eg-1", **kw: Any) -> str:
        return self.pim.activate(group, who, T0, T0 + timedelta(minutes=minutes), **kw)


def removed_for(result: CycleResult) -> list[tuple[str, str]]:
    return [(c.binding.ic_user_id, str(c.reason)) for c in result.applied if c.op == "remove"]


# -- ends come from the ledger, whatever the config says now -----------------------------------


def test_a_grant_whose_mapping_leaves_the_config_still_ends_at_its_end(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS, TEMPS])
    end = T0 + timedelta(minutes=30)
    r.activate("u1@x", 30, group="eg-2")
    r.service.poll()
    assert r.holders(TEMP) == {"u-u1@x"}
    again = r.restart([ADMINS])
    dry = again.rec.cycle(dry_run=True)
    [orphan] = [f for f in dry.findings if f.kind == "orphan"]
    assert "u1@x" in orphan.detail and "'temp'" in orphan.detail
    assert "2026-11-24 12:30:00Z" in orphan.detail
    assert again.holders(TEMP) == {"u-u1@x"}  # kept until its end, not cut at once
    assert again.timers.pending() == {f"expire@{end.isoformat()}": end}
    again.timers.advance_to(end)
    assert again.holders(TEMP) == set()


def test_a_permanent_grant_whose_mapping_disappears_is_removed_as_orphaned(
    tmp_path: Path,
) -> None:
    r = Rig(tmp_path, [ADMINS, {**TEMPS, "include_permanent": True}])
    r.pim.activate("eg-2", "u1@x", T0, None, kind="assigned")
    r.service.poll()
    assert r.holders(TEMP) == {"u-u1@x"}
    again = r.restart([ADMINS])
    assert again.holders(TEMP) == set()
    reasons = [c["reason"] for c in again.ledger.changes_since(T0) if c["op"] == "remove"]
    assert reasons == ["orphaned"]


def test_dropping_the_group_from_a_mapping_ends_its_grants_at_their_end(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.activate("u1@x", 10)
    r.service.poll()
    again = r.restart([{**ADMINS, "identity_center_group": "AWS-Temp"}])
    assert again.holders(ADMIN) == {"u-u1@x"}  # the old target: kept until the end
    assert again.holders(TEMP) == {"u-u1@x"}  # the new one: granted
    again.timers.advance_to(T0 + timedelta(minutes=10))
    assert again.holders(ADMIN) == set() and again.holders(TEMP) == set()


# -- exit codes tell the truth --------------------------------------------------------------------


def test_removals_held_by_the_brake_exit_1_and_are_named(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS], max_removals=3)
    ids = [r.activate(u, 60) for u in USERS[:5]]
    r.service.poll()
    for iid in ids:
        r.pim.deactivate(iid)
    r.clock.advance(15)
    result = r.rec.cycle()
    assert result.exit_code == 1
    assert sorted(c.binding.ic_user_id for c in result.held) == [f"u-{u}" for u in USERS[:5]]
    assert all(c.reason is Reason.DEACTIVATED for c in result.held)
    assert len(r.holders()) == 5
    assert any(f.kind == "safety_brake" for f in result.findings)


def test_health_calls_removals_held_by_the_brake_critical(tmp_path: Path) -> None:
    from bridge.health import State, removals_check

    r = Rig(tmp_path, [ADMINS], max_removals=3)
    ids = [r.activate(u, 60) for u in USERS[:5]]
    r.service.poll()
    assert removals_check(r.ledger.last_cycle(kinds=("poll",))).state is State.OK
    for iid in ids:
        r.pim.deactivate(iid)
    r.clock.advance(15)
    r.service.poll()
    check = removals_check(r.ledger.last_cycle(kinds=("poll",)))
    assert check.state is State.CRITICAL and "5 removals held back" in check.detail
    assert b"pim_bridge_removals_held 5.0" in r.service.metrics.scrape()


def test_a_brake_held_removal_becomes_an_expiry_at_its_recorded_end(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS], max_removals=3)
    ids = [r.activate(u, 60) for u in USERS[:5]]
    r.service.poll()
    for iid in ids:
        r.pim.deactivate(iid)
    r.clock.advance(15)
    r.service.poll()
    assert len(r.holders()) == 5
    r.timers.advance_to(T0 + timedelta(minutes=60))
    assert r.holders() == set()


# -- a crash with a creation in flight ---------------------------------------------------------


def test_a_creation_in_flight_at_a_crash_is_read_back_and_revoked_at_its_end(
    tmp_path: Path,
) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.activate("u1@x", 10)
    r.ic.crash_on_add = True
    with pytest.raises(Crash):
        r.rec.cycle()
    assert r.holders() == {"u-u1@x"}  # AWS made it; the outcome was never written
    r.ic.crash_on_add = False
    r.clock.advance(20 * 60)  # down past the end
    again = r.restart()
    assert again.holders() == set()
    removals = [c for c in again.ledger.changes_since(T0) if c["op"] == "remove"]
    assert [(c["ic_user_id"], c["reason"]) for c in removals] == [("u-u1@x", "expired")]
    assert [u for u, _ in again.denied] == ["u-u1@x"]


def test_a_cut_off_creation_with_no_grant_is_removed_at_restart(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.activate("u1@x", 10)
    r.ledger.record_intent(None, Change("add", _binding("u-u2@x"), Reason.ACTIVATED), T0)
    r.ic.add("u-u2@x", _binding("u-u2@x").target)  # AWS made it before the stop
    again = r.restart()
    assert again.ledger.unconfirmed() == []
    assert again.holders() == {"u-u1@x"}


def test_a_cut_off_creation_still_wanted_is_made_again_if_aws_lacks_it(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.activate("u1@x", 10)
    r.ledger.record_intent(None, Change("add", _binding("u-u1@x"), Reason.ACTIVATED), T0)
    again = r.restart()
    assert again.holders() == {"u-u1@x"}
    assert again.ledger.unconfirmed() == []


def _binding(user: str) -> Any:
    from bridge.model import Binding

    return Binding.of(user, ADMIN)


# -- a mapping that does not resolve stops no expiry ----------------------------------------------


def test_a_renamed_identity_center_group_stops_no_expiry(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS, TEMPS])
    r.activate("u1@x", 10)
    r.activate("u2@x", 10, group="eg-2")
    r.service.poll()
    r.ic.renamed.add("AWS-Temp")
    again = r.restart()  # does not raise: starts degraded
    result = again.rec.cycle()
    assert result.exit_code == 1
    [why] = [f for f in result.findings if f.kind == "unresolved_mapping"]
    assert why.mapping == "temp" and "mappings[1].identity_center_group" in why.detail
    again.timers.advance_to(T0 + timedelta(minutes=10))
    assert again.holders(ADMIN) == set() and again.holders(TEMP) == set()


def test_throttled_name_lookups_at_start_stop_no_expiry(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.activate("u1@x", 10)
    r.service.poll()
    r.ic.throttled = True
    again = r.restart()
    again.timers.advance_to(T0 + timedelta(minutes=10))
    assert again.holders() == set()
    r.ic.throttled = False
    r.activate("u2@x", 30)
    assert again.rec.cycle().exit_code == 0  # resolved once the throttling stops
    assert again.holders() == {"u-u2@x"}


def test_a_group_renamed_while_running_gets_no_new_grants_from_the_next_sweep(
    tmp_path: Path,
) -> None:
    r = Rig(tmp_path, [ADMINS, TEMPS])
    r.activate("u1@x", 10, group="eg-2")
    r.service.poll()
    r.ic.renamed.add("AWS-Temp")
    swept = r.rec.cycle(kind="drift", read_aws=True)
    [why] = [f for f in swept.findings if f.kind == "unresolved_mapping"]
    assert why.mapping == "temp"
    r.activate("u2@x", 10, group="eg-2")
    r.rec.cycle()
    assert r.holders(TEMP) == {"u-u1@x"}  # nobody new through a name that names nothing
    r.timers.advance_to(T0 + timedelta(minutes=11))
    assert r.holders(TEMP) == set()  # and what it granted still ends at its end


def test_a_throttled_name_lookup_at_the_sweep_keeps_the_mapping(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.activate("u1@x", 10)
    r.service.poll()
    r.ic.throttled = True
    swept = r.rec.cycle(kind="drift", read_aws=True)
    assert [f.kind for f in swept.findings if f.kind == "unresolved_mapping"] == []
    r.ic.throttled = False
    r.activate("u2@x", 10)
    r.rec.cycle()
    assert r.holders() == {"u-u1@x", "u-u2@x"}


def test_a_group_marked_bridge_owned_while_running_is_cleaned_from_the_next_sweep(
    tmp_path: Path,
) -> None:
    r = Rig(tmp_path, [{**ADMINS, "drift": "remove"}])
    r.ic.unowned.add("gid-AWS-Admin")
    r.ic.state[ADMIN] = {"u-u7@x"}  # added by hand, not by the bridge
    r.rec.cycle(kind="drift", read_aws=True)
    assert r.holders() == {"u-u7@x"}  # kept: the group is not the bridge's
    r.ic.unowned.clear()  # its description now carries the mark
    r.rec.cycle(kind="drift", read_aws=True)
    assert r.holders() == set()


# -- the brake cannot be bypassed by a read that moves ends ---------------------------------------


def test_ends_moved_into_the_past_by_one_read_are_judged_by_the_brake(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS], max_removals=3)
    ids = [r.activate(u, 60) for u in USERS[:5]]
    r.service.poll()
    r.clock.advance(60)
    moved = r.clock.now() - timedelta(seconds=5)
    for iid, who in zip(ids, USERS, strict=False):
        r.pim.deactivate(iid)
        r.pim.activate("eg-1", who, T0, moved, instance=iid)
    result = r.service.poll()
    assert result is not None and result.exit_code == 1 and len(result.held) == 5
    assert len(r.holders()) == 5
    r.service.expire()  # the ledger still holds the ends it recorded
    assert len(r.holders()) == 5
    r.timers.advance_to(T0 + timedelta(minutes=60))
    assert r.holders() == set()


# -- clock jumps -----------------------------------------------------------------------------------


def test_a_forward_clock_jump_expires_no_mass_of_grants_without_the_brake(
    tmp_path: Path,
) -> None:
    r = Rig(tmp_path, [ADMINS], max_removals=3)
    for u in USERS[:5]:
        r.activate(u, 30)
    r.service.poll()
    r.clock.advance(60)
    r.clock.jump(3600)
    result = r.service.expire()
    assert result is not None and result.exit_code == 1
    assert len(r.holders()) == 5
    assert any(f.kind == "clock_jump" for f in result.findings)
    r.clock.advance(29 * 60)  # monotonic time reaches the ends
    r.service.expire()
    assert r.holders() == set()


def test_a_few_grants_brought_due_by_a_forward_jump_are_still_removed(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS], max_removals=3)
    r.activate("u1@x", 30)
    r.service.poll()
    r.clock.jump(3600)
    result = r.service.expire()
    assert result is not None and removed_for(result) == [("u-u1@x", "expired")]
    assert any(f.kind == "clock_jump" for f in result.findings)


def test_denial_bounds_never_lie_in_the_future_after_a_forward_jump(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS])
    iid = r.activate("u1@x", 30)
    r.service.poll()
    r.clock.advance(60)
    r.clock.jump(3600)
    r.pim.deactivate(iid)
    r.service.poll()
    [(_, bound)] = r.denied
    assert bound < T0 + timedelta(minutes=5)


def test_a_backward_clock_jump_does_not_delay_an_end(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.activate("u1@x", 10)
    r.service.poll()
    r.clock.advance(5 * 60)
    r.clock.jump(-600)
    r.service.poll()
    r.clock.advance(5 * 60 + 1)  # the end has passed, though the wall clock says 12:00
    result = r.service.poll()
    assert result is not None and removed_for(result) == [("u-u1@x", "expired")]
    assert any(f.kind == "clock_jump" for f in result.findings)


# -- recovery reads Graph first --------------------------------------------------------------------


def test_an_extension_made_while_the_bridge_was_down_is_honoured(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS])
    iid = r.activate("u1@x", 5)
    r.service.poll()
    r.pim.deactivate(iid)
    r.pim.activate("eg-1", "u1@x", T0, T0 + timedelta(minutes=60), instance=iid)
    r.clock.advance(10 * 60)  # down through the old end
    again = r.restart()
    assert again.holders() == {"u-u1@x"}
    assert r.denied == []
    assert [c["op"] for c in again.ledger.changes_since(T0)] == ["add"]


# -- malformed instances neither grant nor flip ----------------------------------------------------


def test_an_activated_instance_without_an_end_is_not_granted(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.pim.activate("eg-1", "u1@x", T0, None)
    result = r.rec.cycle()
    assert r.holders() == set()
    assert any(f.kind == "bad_payload" and "no endDateTime" in f.detail for f in result.findings)


def test_duplicate_instance_ids_are_reported_and_do_not_flip_access(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.activate("u1@x", 60, instance="i-dup")
    r.activate("u1@x", 30, instance="i-dup")
    for _ in range(4):
        result = r.rec.cycle()
        r.pim.groups["eg-1"].reverse()  # Graph lists the copies in either order
        r.clock.advance(10)
    assert [c["op"] for c in r.ledger.changes_since(T0)] == ["add"]
    assert any(f.kind == "duplicate_instance" for f in result.findings)
    assert r.ledger.next_expiries() == [T0 + timedelta(minutes=60)]


def test_two_principals_listed_under_one_instance_id_both_keep_their_access(
    tmp_path: Path,
) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.activate("u1@x", 60, instance="i-dup")
    r.activate("u2@x", 30, instance="i-dup")
    for _ in range(4):
        result = r.rec.cycle()
        r.pim.groups["eg-1"].reverse()  # Graph lists the copies in either order
        r.clock.advance(10)
    assert [c["op"] for c in r.ledger.changes_since(T0)] == ["add", "add"]
    assert r.holders() == {"u-u1@x", "u-u2@x"}
    assert any("more than one principal" in f.detail for f in result.findings)
    assert r.ledger.next_expiries() == [T0 + timedelta(minutes=30), T0 + timedelta(minutes=60)]


def test_a_principal_is_a_user_only_when_graph_says_so(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.pim.groups["eg-1"] = [
        PimInstance(
            id="i-1",
            group_id="eg-1",
            principal_id="g-1",
            principal_type="unknown",
            access_id="member",
            assignment_type="activated",
            member_type="direct",
            start=T0,
            end=T0 + timedelta(hours=1),
            principal={"userPrincipalName": "u1@x"},
        )
    ]
    result = r.rec.cycle()
    assert r.holders() == set()
    assert any("no @odata.type" in f.detail for f in result.findings)


def test_one_table_of_exit_codes_in_help_readme_and_runbook(capsys: Any) -> None:
    from bridge.cli import EXIT_CODES, main

    root = Path(__file__).resolve().parents[2]
    with pytest.raises(SystemExit):
        main(["--help"])
    assert EXIT_CODES in capsys.readouterr().out
    for doc in ("README.md", "docs/runbook.md"):
        assert EXIT_CODES in (root / doc).read_text(encoding="utf-8"), doc


def test_an_extension_a_second_before_the_end_is_honoured_not_revoked(tmp_path: Path) -> None:
    r = Rig(tmp_path, [ADMINS])
    end = T0 + timedelta(minutes=10)
    iid = r.activate("u1@x", 10)
    r.service.poll()
    r.timers.advance_to(end - timedelta(seconds=1))
    r.pim.deactivate(iid)
    r.pim.activate("eg-1", "u1@x", T0, end + timedelta(hours=1), instance=iid)
    r.timers.advance_to(end)  # the expiry job fires before the next poll
    assert r.holders() == {"u-u1@x"}
    assert [c["op"] for c in r.ledger.changes_since(T0)] == ["add"]
    assert r.ledger.next_expiries() == [end + timedelta(hours=1)]
    # The new end has its timer at once, with no poll in between.
    r.timers.advance_to(end + timedelta(hours=1))
    assert r.holders() == set()


def test_the_expiry_job_revokes_from_the_ledger_when_graph_does_not_answer(
    tmp_path: Path,
) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.activate("u1@x", 10)
    r.service.poll()
    r.pim.failing.add("eg-1")
    r.timers.advance_to(T0 + timedelta(minutes=10))
    assert r.holders() == set()


def test_access_gone_from_aws_after_its_end_is_still_revoked_and_its_sessions_denied(
    tmp_path: Path,
) -> None:
    r = Rig(tmp_path, [ADMINS])
    r.activate("u1@x", 10)
    r.service.poll()
    r.ic.state[ADMIN].discard("u-u1@x")  # a removal that finished as its process died
    r.clock.advance(11 * 60)
    result = r.service.poll(read_aws=True)
    assert result is not None and removed_for(result) == [("u-u1@x", "expired")]
    assert [u for u, _ in r.denied] == ["u-u1@x"]
    assert r.ledger.holdings() == {}
