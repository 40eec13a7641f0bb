"""Session denial statements: merged by Sid prefix, foreign statements kept, pruned, bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bridge.revoke import (
    COALESCED_SID,
    SID_PREFIX,
    Denial,
    merge_denials,
    policy_size,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
FOREIGN = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "AllowS3", "Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*"},
    ],
}


def statements(doc: str) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(doc)["Statement"]


def test_denial_is_added_with_user_and_issue_time_conditions() -> None:
    m = merge_denials("", [Denial("u-1", NOW)], NOW, HOUR)
    [stmt] = statements(m.document)
    assert stmt["Effect"] == "Deny" and stmt["Sid"].startswith(SID_PREFIX)
    assert stmt["Condition"] == {
        "StringEquals": {"identitystore:userId": "u-1"},
        "DateLessThan": {"aws:TokenIssueTime": "2026-11-24T12:00:00Z"},
    }


def test_foreign_statements_are_preserved_exactly_and_in_order() -> None:
    m = merge_denials(json.dumps(FOREIGN), [Denial("u-1", NOW)], NOW, HOUR)
    out = statements(m.document)
    assert out[:2] == FOREIGN["Statement"]
    assert len(out) == 3


def test_later_revocation_moves_the_time_forward_and_earlier_changes_nothing() -> None:
    first = merge_denials("", [Denial("u-1", NOW)], NOW, HOUR).document
    later = merge_denials(first, [Denial("u-1", NOW + timedelta(minutes=5))], NOW, HOUR)
    assert statements(later.document)[0]["Condition"]["DateLessThan"] == {
        "aws:TokenIssueTime": "2026-11-24T12:05:00Z"
    }
    earlier = merge_denials(later.document, [Denial("u-1", NOW)], NOW, HOUR)
    assert not earlier.changed


def test_denials_are_pruned_once_the_session_duration_has_passed() -> None:
    doc = merge_denials(json.dumps(FOREIGN), [Denial("u-1", NOW)], NOW, HOUR).document
    still = merge_denials(doc, [], NOW + timedelta(minutes=59), HOUR)
    assert not still.changed
    gone = merge_denials(doc, [], NOW + HOUR, HOUR)
    assert gone.pruned == ["u-1"]
    assert statements(gone.document) == FOREIGN["Statement"]


def test_near_the_size_limit_denials_are_coalesced_not_dropped() -> None:
    users = [f"9067b6a4d0-{i:08d}-aaaa-bbbb-cccccccccccc" for i in range(60)]
    m = merge_denials(json.dumps(FOREIGN), [Denial(u, NOW) for u in users], NOW, HOUR, limit=4000)
    assert m.coalesced and not m.overflow
    assert policy_size(m.document) <= 4000
    [ours] = [s for s in statements(m.document) if s.get("Sid") == COALESCED_SID]
    assert sorted(ours["Condition"]["StringEquals"]["identitystore:userId"]) == sorted(users)


def test_overflow_writes_nothing_and_says_so() -> None:
    users = [f"user-{i:040d}" for i in range(400)]
    m = merge_denials(json.dumps(FOREIGN), [Denial(u, NOW) for u in users], NOW, HOUR)
    assert m.overflow
    assert m.document == json.dumps(FOREIGN)
