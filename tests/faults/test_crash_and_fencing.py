"""A process dying between an AWS call and its outcome, and a deposed leader waking up: a new
start marks the cut-off intent 'interrupted', knows what the dead process made, and revokes it
at its end; a leader whose epoch is gone writes nothing and calls no AWS write."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bridge.identity_center import AwsIdentityCenter
from bridge.model import AccountAssignment, Target
from bridge.ports import GroupRead
from bridge.schema import changes, cycles, findings, grants, holdings
from bridge.store import Ledger
from tests.faults.conftest import HOUR, Rig, RigFactory

WRITES = (
    "CreateGroupMembership",
    "DeleteGroupMembership",
    "CreateAccountAssignment",
    "DeleteAccountAssignment",
    "PutInlinePolicyToPermissionSet",
    "ProvisionPermissionSet",
)


class DiesAfterTheCall:
    """The Identity Center port of a process that is killed the moment AWS accepted an
    assignment: the call happened, its outcome was never written."""

    def __init__(self, real: AwsIdentityCenter) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def add(self, user_id: str, target: Target) -> None:
        self.real.add(user_id, target)
        if isinstance(target, AccountAssignment):
            raise SystemExit("killed")


def test_crash_between_intent_and_outcome_is_marked_interrupted_and_still_revoked_on_time(
    make_rig: RigFactory,
) -> None:
    dying = make_rig(wrap_ic=DiesAfterTheCall)
    end = dying.activate("alice", length=timedelta(minutes=10))
    with pytest.raises(SystemExit):
        dying.poll()
    assert dying.assigned() == {"alice"}  # AWS made it; the ledger has only the intent
    statuses = {c["target_key"]: c["status"] for c in adds(dying)}
    assert statuses[dying.assignment_key()] == "intent"
    dying.close()

    again = make_rig()  # a new start on the same ledger
    again.service.recover()
    history = [(c["target_key"], c["status"]) for c in adds(again)]
    # The cut-off add is marked, read back from AWS at the restart and kept as held: one
    # assignment, no second creation.
    assert [s for k, s in history if k == again.assignment_key()] == ["interrupted"]
    assert again.bridge.ledger.unconfirmed() == []
    assert [s for k, s in history if k == again.group_key()] == ["ok"]
    assert again.world.aws.assignments("111111111111", again.world.permission_set_arn) == [
        ("USER", again.world.ic_users["alice"])
    ]
    assert again.world.aws.calls["CreateAccountAssignment"] == 1
    again.check()
    again.advance_to(end)
    assert again.assigned() == set() and again.members() == set()
    again.advance(2)
    again.check()


def adds(rig: Rig) -> list[dict[str, Any]]:
    return [c for c in rig.bridge.ledger.changes_since(rig.clock.now() - HOUR) if c["op"] == "add"]


def counts(ledger: Ledger) -> dict[str, int]:
    with ledger.engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar() or 0)
            for t in (cycles, changes, grants, holdings, findings)
        }


def aws_writes(rig: Rig) -> int:
    return sum(rig.world.aws.calls[op] for op in WRITES)


class DeposedDuringTheRead:
    """Graph answers slowly enough for another replica to take over meanwhile."""

    def __init__(self, real: Any, take_over: Any) -> None:
        self.real, self.take_over = real, take_over

    def read_groups(
        self, group_ids: Sequence[str], *, deadline: float | None = None
    ) -> dict[str, GroupRead]:
        reads = self.real.read_groups(group_ids)
        self.take_over()
        return dict(reads)


def test_a_deposed_leader_writes_nothing_and_calls_no_aws_write(
    make_rig: RigFactory, pg_url: str
) -> None:
    old = make_rig(store_url=pg_url)
    old.bridge.ledger.take_leadership("replica-a", old.clock.now())
    end = old.activate("alice", length=timedelta(minutes=10))
    old.poll()
    assert old.members() == {"alice"}

    new = make_rig(store_url=pg_url)
    new.bridge.ledger.take_leadership("replica-b", new.clock.now())  # a paused leader is deposed
    old.activate("bob")
    before, writes = counts(old.bridge.ledger), aws_writes(old)
    assert old.poll() is None  # the cycle is refused: Fenced, logged
    old.advance_to(end)  # its expiry timer fires too
    assert counts(old.bridge.ledger) == before and aws_writes(old) == writes
    assert old.members() == {"alice"}  # nothing was done by the deposed one

    # Deposed while reading Graph: the plan it made is never recorded nor applied.
    third = make_rig(store_url=pg_url)
    new.bridge.reconciler.desired.source = DeposedDuringTheRead(
        new.bridge.reconciler.desired.source,
        lambda: third.bridge.ledger.take_leadership("replica-c", third.clock.now()),
    )
    assert new.poll() is None
    assert counts(new.bridge.ledger) == before and aws_writes(new) == writes

    third.service.recover()  # the current leader: bob added, alice's missed expiry revoked
    assert third.members() == {"bob"} and third.assigned() == {"bob"}
    third.check()
