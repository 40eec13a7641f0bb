"""Arming through the Revoker: which permission sets a binding reaches, which end a user's armed
denial names, and what a withdrawal leaves."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bridge.denial.writer import Revoker
from bridge.model import AccountAssignment, Binding, GroupMembership
from tests.fakes import FakeClock

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ADMIN = "arn:aws:sso:::permissionSet/ssoins-1/ps-admin"
READ = "arn:aws:sso:::permissionSet/ssoins-1/ps-read"


class MemorySink:
    def __init__(self) -> None:
        self.policies: dict[str, str] = {}
        self.provisioned: list[tuple[str, str]] = []

    def session_duration(self, permission_set_arn: str) -> timedelta:
        return timedelta(hours=1)

    def get_inline_policy(self, permission_set_arn: str) -> str:
        return self.policies.get(permission_set_arn, "")

    def put_inline_policy(self, permission_set_arn: str, document: str) -> None:
        self.policies[permission_set_arn] = document

    def provision(self, permission_set_arn: str, account_id: str) -> None:
        self.provisioned.append((permission_set_arn, account_id))

    def provision_accounts(self, permission_set_arn: str, accounts: Sequence[str]) -> None:
        for account in accounts:
            self.provision(permission_set_arn, account)


def armed_ends(sink: MemorySink, ps: str) -> dict[str, str]:
    doc = sink.policies.get(ps) or '{"Statement": []}'
    return {
        s["Condition"]["StringEquals"]["identitystore:userId"]: s["Condition"][
            "DateGreaterThanEquals"
        ]["aws:CurrentTime"]
        for s in json.loads(doc)["Statement"]
        if "DateGreaterThanEquals" in s["Condition"]
    }


def test_a_user_reaching_one_permission_set_twice_is_armed_for_the_later_end() -> None:
    sink = MemorySink()
    reads: list[str] = []

    def group_assignments(group_id: str) -> list[AccountAssignment]:
        reads.append(group_id)
        return [AccountAssignment("111111111111", ADMIN), AccountAssignment("111111111111", READ)]

    revoker = Revoker(sink, group_assignments, clock=FakeClock(NOW))
    soon, later = NOW + timedelta(seconds=10), NOW + timedelta(seconds=25)
    direct = Binding("u-1", AccountAssignment("111111111111", ADMIN))
    via_group = Binding("u-1", GroupMembership("g-1"))
    other = Binding("u-2", GroupMembership("g-1"))

    revoker.arm(
        {
            direct: (later + timedelta(seconds=4), later),
            via_group: (soon + timedelta(seconds=4), soon),
            other: (soon + timedelta(seconds=4), soon),
        }
    )

    # Through the group u-1 reaches ADMIN until its direct assignment ends too.
    assert armed_ends(sink, ADMIN) == {"u-1": "2026-11-24T12:00:25Z", "u-2": "2026-11-24T12:00:10Z"}
    assert armed_ends(sink, READ) == {"u-1": "2026-11-24T12:00:10Z", "u-2": "2026-11-24T12:00:10Z"}
    assert reads == ["g-1"]  # one group read for the whole arming

    revoker.arm({}, [other])

    assert armed_ends(sink, ADMIN) == {"u-1": "2026-11-24T12:00:25Z"}
    assert armed_ends(sink, READ) == {"u-1": "2026-11-24T12:00:10Z"}


class MeetingSink(MemorySink):
    """Provisions only once `parties` provisionings are under way at the same time."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.meeting = threading.Barrier(parties, timeout=10)

    def provision(self, permission_set_arn: str, account_id: str) -> None:
        self.meeting.wait()
        super().provision(permission_set_arn, account_id)


def test_ends_across_permission_sets_are_armed_side_by_side() -> None:
    sink = MeetingSink(parties=2)
    revoker = Revoker(sink, clock=FakeClock(NOW))
    end = NOW + timedelta(seconds=20)
    report = revoker.arm(
        {
            Binding("u-1", AccountAssignment("111111111111", ADMIN)): (end, end),
            Binding("u-2", AccountAssignment("222222222222", READ)): (end, end),
        }
    )

    # One after the other, the first provisioning would wait for the second in vain.
    assert sorted(sink.provisioned) == [(ADMIN, "111111111111"), (READ, "222222222222")]
    assert [where for where, _ in report.written] == [ADMIN, READ]
    assert armed_ends(sink, ADMIN) == {"u-1": "2026-11-24T12:00:20Z"}
