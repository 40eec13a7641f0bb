"""Identity Center misbehaving, through moto's server: throttling, conflicts, asynchronous
requests that end FAILED, SCIM writing behind the bridge's back, a plan that would remove too
much, a permission set deleted out of band. Expiries still land by the end second (+2 s)."""

from __future__ import annotations

from datetime import timedelta

from bridge.identity_center import Backoff
from bridge.model import Binding
from tests.faults.conftest import HOUR, Rig, RigFactory


def test_identity_center_throttling_slows_the_bridge_but_loses_no_change(
    make_rig: RigFactory,
) -> None:
    # The production backoff (0.2 s doubling to 5 s, 8 attempts) against a 5 calls/s limit.
    rig = make_rig(ic_options={"backoff": Backoff()})
    ends = {who: rig.activate(who, length=timedelta(minutes=10)) for who in ("alice", "bob")}
    rig.activate("carol", length=HOUR)
    rig.world.aws.set_rate_limit(5)  # well under the adapter's own 20 calls/s
    try:
        first = rig.poll()
        assert first is not None and not first.failed, first.failed
        assert rig.members() == rig.assigned() == {"alice", "bob", "carol"}
        rig.advance_to(max(ends.values()))
        rig.advance(2)
        assert rig.members() == rig.assigned() == {"carol"}
    finally:
        rig.world.aws.set_rate_limit(None)
    assert rig.world.aws.throttled > 0, "the sandbox never throttled: the scenario tested nothing"
    assert rig.bridge.ic.policy.retries > 0
    rig.check()


def test_conflicts_on_create_and_delete_are_retried_to_one_assignment(rig: Rig) -> None:
    end = rig.activate("alice", length=timedelta(minutes=10))
    rig.world.aws.conflict_next(3)
    rig.poll()
    assert rig.world.aws.assignments("111111111111", rig.world.permission_set_arn) == [
        ("USER", rig.world.ic_users["alice"])
    ]
    rig.world.aws.conflict_next(3)
    rig.advance_to(end)
    assert rig.assigned() == set() and rig.members() == set()
    adds = [c for c in rig.bridge.ledger.changes_since(end - HOUR) if c["op"] == "add"]
    assert [c["status"] for c in adds] == ["ok", "ok"]  # one membership, one assignment
    rig.check()


def test_conflicts_beyond_the_retries_fail_the_change_and_the_next_poll_makes_it(
    rig: Rig,
) -> None:
    rig.activate("alice")
    rig.world.aws.conflict_next(100)
    first = rig.poll()
    assert first is not None and [c.binding.target_key for c, _ in first.failed] == [
        rig.assignment_key()
    ]
    assert rig.members() == {"alice"} and rig.assigned() == set()
    rig.check()  # the ledger holds the membership only
    rig.world.aws.ext.reset()
    rig.advance(15)
    rig.poll()
    assert rig.assigned() == {"alice"}
    rig.check()


def test_assignment_that_ends_failed_is_recorded_failed_and_retried(rig: Rig) -> None:
    rig.activate("alice")
    rig.world.aws.fail_next_assignment(reason="Account is suspended")
    first = rig.poll()
    assert first is not None and len(first.failed) == 1
    assert "Account is suspended" in first.failed[0][1]
    statuses = {
        c["target_key"]: c["status"] for c in rig.bridge.ledger.changes_since(rig.clock.now())
    }
    assert statuses == {rig.group_key(): "ok", rig.assignment_key(): "failed"}
    rig.check()
    rig.advance(15)
    rig.poll()
    assert rig.assigned() == {"alice"}
    rig.check()


def test_removal_that_ends_failed_is_held_retried_and_done_within_two_seconds(
    rig: Rig,
) -> None:
    end = rig.activate("alice", length=timedelta(minutes=10))
    rig.poll()
    rig.world.aws.fail_next_assignment(deletion=True, reason="Internal failure")
    rig.advance_to(end)
    # The membership went; the assignment's deletion failed: the ledger says so, AWS agrees.
    assert rig.members() == set() and rig.assigned() == {"alice"}
    held = rig.bridge.ledger.holdings()
    assert [h.state for h in held.values()] == ["remove_failed"]
    rig.check()
    rig.advance(2)  # the retry two seconds later
    assert rig.assigned() == set() and rig.bridge.ledger.holdings() == {}
    rig.check()


def test_scim_re_adding_a_removed_member_is_removed_again_where_drift_is_remove(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(drift="remove")
    end = rig.activate("alice", length=timedelta(minutes=10))
    rig.activate("bob", length=HOUR)
    rig.poll()
    rig.advance_to(end)
    assert rig.members() == {"bob"}
    # Entra's SCIM export, minutes late, puts alice back through the Identity Store API.
    rig.world.aws.add_member(rig.world.ic_group_id, rig.world.ic_users["alice"])
    rig.advance(30)
    result = rig.drift()
    assert result is not None
    assert [(c.op, c.reason.value, c.user_name) for c in result.applied] == [
        ("remove", "drift", None)
    ]
    assert rig.members() == {"bob"}
    assert any(f.kind == "drift" and "removing" in f.detail for f in result.findings)
    rig.check()


def test_scim_re_adding_a_removed_member_is_reported_where_drift_is_report(rig: Rig) -> None:
    end = rig.activate("alice", length=timedelta(minutes=10))
    rig.activate("bob", length=HOUR)
    rig.poll()
    rig.advance_to(end)
    alice = rig.world.ic_users["alice"]
    rig.world.aws.add_member(rig.world.ic_group_id, alice)
    rig.advance(30)
    result = rig.drift()
    assert result is not None and result.applied == []
    assert rig.members() == {"alice", "bob"}
    assert [f.kind for f in result.findings] == ["drift"]
    assert alice in result.findings[0].detail
    rig.check(foreign={Binding.of(alice, rig.group_key())})


def test_mass_removal_is_held_back_but_expiries_still_land_on_time(
    make_rig: RigFactory,
) -> None:
    rig = make_rig(max_removals=3)
    who = ("alice", "bob", "carol", "erin")
    end = max(rig.activate(w, length=timedelta(minutes=20)) for w in who)
    rig.activate("frank", length=HOUR)
    rig.poll()
    assert rig.members() == {*who, "frank"}
    for w in who:  # everyone but frank deactivates at once: 8 removals > 3
        rig.deactivate(w)
    rig.advance(15)
    braked = rig.poll()
    assert braked is not None and braked.applied == []
    assert [f.kind for f in braked.findings] == ["safety_brake"]
    assert rig.members() == {*who, "frank"} and rig.removals() == []
    rig.check()  # the ledger: grants deactivated, holdings still held, as AWS has them
    # Held back, but never past the end PIM gave them.
    rig.advance_to(end)
    rig.advance(2)
    assert rig.members() == rig.assigned() == {"frank"}
    assert {c["reason"] for c in rig.removals()} == {"expired"}
    rig.check()


def test_permission_set_deleted_out_of_band_is_reported_and_other_mappings_keep_working(
    rig: Rig,
) -> None:
    rig.activate("alice", length=HOUR)
    rig.poll()
    sso = rig.world.aws.client("sso-admin")
    ps = rig.world.permission_set_arn
    # Someone deletes the assignment and then the permission set in the console.
    sso.delete_account_assignment(
        InstanceArn=rig.world.aws.instance_arn,
        TargetId="111111111111",
        TargetType="AWS_ACCOUNT",
        PermissionSetArn=ps,
        PrincipalType="USER",
        PrincipalId=rig.world.ic_users["alice"],
    )
    sso.delete_permission_set(InstanceArn=rig.world.aws.instance_arn, PermissionSetArn=ps)
    end = rig.activate("bob", length=timedelta(minutes=10))
    rig.activate("carol", "breakglass", length=timedelta(minutes=10))
    rig.advance(15)
    result = rig.poll()
    assert result is not None
    # bob's membership and carol's (break-glass) are made; bob's assignment cannot be.
    assert rig.members() == {"alice", "bob", "carol"}
    assert [c.binding.target_key for c, _ in result.failed] == [rig.assignment_key()]
    drift = rig.drift()
    assert drift is not None
    # The drift sweep sees alice's assignment gone: the ledger stops claiming it, and the
    # re-add fails (reported) while the permission set does not exist.
    assert [c.binding.target_key for c, _ in drift.failed] == [rig.assignment_key()] * 2
    assert all("ResourceNotFoundException" in why for _, why in drift.failed)
    rig.check()
    rig.advance_to(end)
    rig.advance(2)
    assert rig.members() == {"alice"}
    rig.check()
