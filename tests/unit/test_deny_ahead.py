"""A removal's session denial is written while the removal runs, bounded a little past its
expected end; a removal that outlasts the bound is denied again at its real end, and access given
back before the bound waits for it (or the new sessions would be denied)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.denial.policy import denial_bound
from bridge.denial.writer import DenialReport
from bridge.model import AccountAssignment, Binding, Change, GroupMembership, Target
from bridge.reconcile import Reconciler
from bridge.revoke import ARM_LEAD, ARM_SLACK, ArmAhead, DenyNow, RemovalTimes, SessionDenial
from tests.fakes import FakeClock, FakeIdentityCenter, make

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ALICE = "u-alice@x"


class SlowRemovals(FakeIdentityCenter):
    """Removals that take `takes` seconds of the virtual clock, and report whether a denial had
    already been asked for when they finished."""

    def __init__(self, clock: FakeClock, takes: float) -> None:
        super().__init__(["alice@x", "bob@x"])
        self.clock, self.takes = clock, takes
        self.denied_during: list[bool] = []
        self.denial_started = threading.Event()

    def remove(self, user_id: str, target: Target) -> None:
        self.denied_during.append(self.denial_started.wait(timeout=5))
        self.clock.advance(self.takes)
        super().remove(user_id, target)


def with_denial(  # type: ignore[no-untyped-def]
    rec: Reconciler,
    deny: DenyNow = lambda changes, before: None,
    arm: ArmAhead | None = None,
    ic: object = None,
    sleep: Callable[[float], None] = time.sleep,
):
    """The same reconciler, built again with session denial wired in as production does."""
    denial = SessionDenial(deny, arm, rec.ledger.ends_within, rec.clock, sleep=sleep)
    port = ic or rec.identity_center
    return Reconciler(rec.config, rec.desired.source, port, rec.ledger, rec.clock, denial=denial)  # type: ignore[arg-type]


def rig(tmp_path: Path, takes: float):  # type: ignore[no-untyped-def]
    pim, _, clock, ledger, rec = make(tmp_path)
    ic = SlowRemovals(clock, takes)
    denials: list[tuple[str, datetime]] = []
    slept: list[float] = []

    def deny(changes: list[Change], before: datetime) -> None:
        denials.extend((c.binding.ic_user_id, before) for c in changes)
        ic.denial_started.set()

    rec = with_denial(rec, deny, ic=ic, sleep=slept.append)
    pim.activate("eg-1", "alice@x", T0, T0 + timedelta(minutes=5), instance="first")
    rec.cycle()
    clock.advance(300)
    return pim, ic, clock, rec, denials, slept


def test_the_denial_is_written_while_the_removal_runs_with_a_bound_past_it(
    tmp_path: Path,
) -> None:
    pim, ic, clock, rec, denials, _ = rig(tmp_path, takes=0.5)
    end = clock.now()

    rec.expire()

    assert ic.denied_during == [True]
    assert denials == [(ALICE, end + RemovalTimes.DEFAULT)]


def test_a_removal_that_outlasts_the_bound_is_denied_again_at_its_end(tmp_path: Path) -> None:
    pim, ic, clock, rec, denials, _ = rig(tmp_path, takes=7.25)
    end = clock.now()

    rec.expire()

    assert denials == [
        (ALICE, end + RemovalTimes.DEFAULT),
        (ALICE, end + timedelta(seconds=7.25)),
    ]


def test_access_given_back_before_the_bound_waits_for_it(tmp_path: Path) -> None:
    pim, ic, clock, rec, denials, slept = rig(tmp_path, takes=0.5)
    rec.expire()
    bound = denials[0][1]

    pim.activate("eg-1", "alice@x", clock.now(), clock.now() + timedelta(hours=1), instance="2nd")
    rec.cycle()

    # Sessions issued from the bound's whole second on are not denied: the add waits until then.
    assert slept == [(denial_bound(bound) - clock.now()).total_seconds()]
    assert ALICE in ic.state["group:gid-AWS-Admin"]


def test_access_given_back_after_the_bound_does_not_wait(tmp_path: Path) -> None:
    pim, ic, clock, rec, denials, slept = rig(tmp_path, takes=0.5)
    rec.expire()
    clock.advance(5)

    pim.activate("eg-1", "alice@x", clock.now(), clock.now() + timedelta(hours=1), instance="2nd")
    rec.cycle()

    assert slept == []


def test_the_bound_follows_how_long_removals_have_been_taking() -> None:
    times = RemovalTimes()
    assignment = AccountAssignment("111111111111", "arn:aws:sso:::permissionSet/ssoins-1/ps-1")
    membership = GroupMembership("gid-1")
    assert times.margin(assignment) == RemovalTimes.DEFAULT
    for seconds in (0.4, 0.5, 0.6, 0.8, 2.0):
        times.record(assignment, timedelta(seconds=seconds))
    assert times.margin(assignment) == timedelta(seconds=3.0)  # 1.5 x the 90th
    # Each kind has its own history: memberships are removed synchronously, in milliseconds.
    for _ in range(5):
        times.record(membership, timedelta(seconds=0.1))
    assert times.margin(membership) == RemovalTimes.FLOOR
    for _ in range(5):
        times.record(assignment, timedelta(seconds=60))
    assert times.margin(assignment) == RemovalTimes.CEILING


# -- arming: a grant's denial written before its end, in force from it ---------------------------


class ArmRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[dict[Binding, tuple[datetime, datetime]], list[Binding]]] = []
        self.failing = False

    def __call__(
        self, armed: Mapping[Binding, tuple[datetime, datetime]], disarmed: list[Binding]
    ) -> DenialReport:
        self.calls.append((dict(armed), list(disarmed)))
        return DenialReport(problems=["throttled"] if self.failing else [])


def arming(tmp_path: Path, deny: DenyNow = lambda changes, before: None):  # type: ignore[no-untyped-def]
    pim, ic, clock, ledger, rec = make(tmp_path)
    recorder = ArmRecorder()
    rec = with_denial(rec, deny, recorder)
    end = T0 + timedelta(minutes=5)
    pim.activate("eg-1", "alice@x", T0, end, instance="first")
    rec.cycle()
    return pim, clock, rec, recorder, end


GROUP = Binding.of(ALICE, "group:gid-AWS-Admin")


def test_a_grant_is_armed_within_the_lead_of_its_end_and_only_once(tmp_path: Path) -> None:
    pim, clock, rec, recorder, end = arming(tmp_path)
    rec.denial.arm()
    assert recorder.calls == []  # five minutes out: nothing yet

    clock.set(end - ARM_LEAD)
    rec.denial.arm()
    rec.denial.arm()

    bound = end + RemovalTimes.DEFAULT + ARM_SLACK
    assert recorder.calls == [({GROUP: (bound, end)}, [])]


def test_an_extension_withdraws_the_armed_denial_and_arms_the_new_end_in_time(
    tmp_path: Path,
) -> None:
    pim, clock, rec, recorder, end = arming(tmp_path)
    clock.set(end - ARM_LEAD)
    rec.denial.arm()
    later = end + timedelta(minutes=10)
    pim.deactivate("first")
    pim.activate("eg-1", "alice@x", T0, later, instance="extended")
    rec.cycle()

    rec.denial.arm()
    assert recorder.calls[-1] == ({}, [GROUP])
    clock.set(later - timedelta(seconds=10))
    rec.denial.arm()
    assert recorder.calls[-1] == ({GROUP: (later + RemovalTimes.DEFAULT + ARM_SLACK, later)}, [])


def test_an_early_deactivation_withdraws_the_armed_denial(tmp_path: Path) -> None:
    pim, clock, rec, recorder, end = arming(tmp_path)
    clock.set(end - ARM_LEAD)
    rec.denial.arm()
    pim.deactivate("first")
    rec.cycle()

    rec.denial.arm()

    assert recorder.calls[-1] == ({}, [GROUP])


def test_an_arming_that_failed_is_tried_again(tmp_path: Path) -> None:
    pim, clock, rec, recorder, end = arming(tmp_path)
    clock.set(end - ARM_LEAD)
    recorder.failing = True
    rec.denial.arm()
    recorder.failing = False
    rec.denial.arm()
    rec.denial.arm()

    assert len(recorder.calls) == 2 and recorder.calls[0] == recorder.calls[1]


def test_the_expiry_keeps_the_armed_bound(tmp_path: Path) -> None:
    denials: list[datetime] = []
    pim, clock, rec, recorder, end = arming(
        tmp_path, lambda changes, before: denials.append(before)
    )  # type: ignore[func-returns-value]
    clock.set(end - ARM_LEAD)
    rec.denial.arm()
    clock.set(end)

    rec.expire()

    # The denial written at the end asks for no more than the armed one gave: nothing to write.
    assert denials == [end + RemovalTimes.DEFAULT + ARM_SLACK]


def test_a_binding_that_a_standing_assignment_keeps_is_not_armed(tmp_path: Path) -> None:
    pim, _, clock, _, rec = make(tmp_path, include_permanent=True)
    recorder = ArmRecorder()
    rec = with_denial(rec, arm=recorder)
    end = T0 + timedelta(minutes=5)
    pim.activate("eg-1", "alice@x", T0, end, instance="first")
    pim.activate("eg-1", "alice@x", T0, None, instance="standing", kind="assigned")
    pim.activate("eg-1", "bob@x", T0, end, instance="bob")
    rec.cycle()
    clock.set(end - ARM_LEAD)

    rec.denial.arm()

    bound = end + RemovalTimes.DEFAULT + ARM_SLACK
    assert recorder.calls == [({Binding("u-bob@x", GROUP.target): (bound, end)}, [])]
