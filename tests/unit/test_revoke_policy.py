"""Session denial statements: merged by Sid prefix, foreign statements kept, pruned, bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bridge.denial.policy import (
    COALESCED_SID,
    SID_PREFIX,
    Denial,
    MalformedPolicy,
    deny_statement,
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


# -- armed denials: written before a grant's end, in force from it ------------------------------

END = NOW + timedelta(seconds=30)
BOUND = END + timedelta(seconds=5)


def test_an_armed_denial_takes_effect_at_the_end_not_before() -> None:
    m = merge_denials("", [Denial("u-1", BOUND, END)], NOW, HOUR)
    [stmt] = statements(m.document)
    assert stmt["Condition"] == {
        "StringEquals": {"identitystore:userId": "u-1"},
        "DateLessThan": {"aws:TokenIssueTime": "2026-11-24T12:00:35Z"},
        "DateGreaterThanEquals": {"aws:CurrentTime": "2026-11-24T12:00:30Z"},
    }
    # Armed again for the same end: nothing to write.
    assert not merge_denials(m.document, [Denial("u-1", BOUND, END)], NOW, HOUR).changed


def test_an_extension_replaces_the_armed_denial_and_disarming_withdraws_it() -> None:
    armed = merge_denials(json.dumps(FOREIGN), [Denial("u-1", BOUND, END)], NOW, HOUR).document
    later = END + timedelta(minutes=10)
    moved = merge_denials(armed, [Denial("u-1", later + timedelta(seconds=5), later)], NOW, HOUR)
    [ours] = statements(moved.document)[2:]
    assert ours["Condition"]["DateGreaterThanEquals"] == {"aws:CurrentTime": "2026-11-24T12:10:30Z"}

    withdrawn = merge_denials(moved.document, [], NOW, HOUR, disarm=["u-1"])
    assert withdrawn.pruned == ["u-1"]
    assert statements(withdrawn.document) == FOREIGN["Statement"]


def test_once_its_end_has_come_an_armed_denial_is_in_force_and_covers_the_expiry() -> None:
    armed = merge_denials("", [Denial("u-1", BOUND, END)], NOW, HOUR).document
    # The expiry's own denial, bounded by when its removal started plus the expected removal
    # time, falls within the armed bound: no second write at the end.
    at_end = merge_denials(armed, [Denial("u-1", END + timedelta(seconds=3))], END, HOUR)
    assert not at_end.changed
    # Disarming after the end withdraws nothing: the denial is in force.
    assert not merge_denials(armed, [], END, HOUR, disarm=["u-1"]).changed


def test_armed_denials_are_never_coalesced_with_those_in_force() -> None:
    users = [f"9067b6a4d0-{i:08d}-aaaa-bbbb-cccccccccccc" for i in range(60)]
    denials = [Denial(u, NOW) for u in users] + [Denial("u-armed", BOUND, END)]
    m = merge_denials(json.dumps(FOREIGN), denials, NOW, HOUR, limit=4000)
    assert m.coalesced and not m.overflow
    [armed] = [
        s for s in statements(m.document) if "DateGreaterThanEquals" in s.get("Condition", {})
    ]
    assert armed["Condition"]["StringEquals"]["identitystore:userId"] == "u-armed"


def test_when_room_runs_out_armings_give_way_to_denials_in_force() -> None:
    users = [f"9067b6a4d0-{i:08d}-aaaa-bbbb-cccccccccccc" for i in range(8)]
    soon, later = END, END + timedelta(minutes=1)
    armed = merge_denials(
        "",
        [Denial(users[0], BOUND, soon), Denial(users[1], later + timedelta(seconds=5), later)],
        NOW,
        HOUR,
        limit=1000,
    )
    assert armed.unarmed == []

    # Revocations now in force need the room: the arming furthest off goes, never a denial.
    m = merge_denials(armed.document, [Denial(u, NOW) for u in users[2:]], NOW, HOUR, limit=1000)

    assert not m.overflow and m.unarmed == [users[1]]
    kept = statements(m.document)
    assert [s["Sid"] for s in kept if "DateGreaterThanEquals" in s["Condition"]] == [
        SID_PREFIX + users[0].replace("-", "") + "Armed"
    ]
    denied = {
        u
        for s in kept
        if "DateGreaterThanEquals" not in s["Condition"]
        for u in [s["Condition"]["StringEquals"]["identitystore:userId"]]
        for u in ([u] if isinstance(u, str) else u)
    }
    assert denied == set(users[2:])


LOOKALIKES = [
    {"Sid": "PimBridgeDenyContractors", "Effect": "Deny", "Action": "s3:*", "Resource": "*"},
    {
        "Sid": "PimBridgeDenyAudit",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {},
    },
    # Our shape and a user's bound, but a Sid we would never give that user.
    deny_statement(["u-9"], NOW - 2 * HOUR, "PimBridgeDenyContractors"),
    # Our Sid for u-9, but it denies more than we ever write.
    {**deny_statement(["u-9"], NOW - 2 * HOUR, "PimBridgeDenyu9"), "Action": "s3:*"},
]


@pytest.mark.parametrize("lookalike", LOOKALIKES, ids=["no-condition", "empty", "sid", "action"])
def test_a_foreign_statement_whose_sid_starts_with_our_prefix_is_kept_untouched(
    lookalike: dict,  # type: ignore[type-arg]
) -> None:
    doc = json.dumps({"Version": "2012-10-17", "Statement": [lookalike]})
    added = merge_denials(doc, [Denial("u-1", NOW)], NOW, HOUR)
    assert statements(added.document)[0] == lookalike
    # Long past any session it could match, it is still not ours to prune.
    later = merge_denials(added.document, [], NOW + 3 * HOUR, HOUR)
    assert statements(later.document) == [lookalike]


@pytest.mark.parametrize(
    "document",
    ["[]", '"a policy"', '{"Statement": "oops"}', '{"Statement": ["oops"]}', '{"Statement": 7}'],
)
def test_a_malformed_policy_is_refused_never_rewritten_into_garbage(document: str) -> None:
    with pytest.raises(MalformedPolicy):
        merge_denials(document, [Denial("u-1", NOW)], NOW, HOUR)


def test_a_block_denies_every_session_of_the_user_with_no_issue_time_bound() -> None:
    m = merge_denials(json.dumps(FOREIGN), [], NOW, HOUR, block=["u-1"])
    out = statements(m.document)
    assert out[:2] == FOREIGN["Statement"] and m.blocked == ["u-1"]
    assert out[2]["Condition"] == {"StringEquals": {"identitystore:userId": "u-1"}}


def test_a_block_outlives_every_session_and_blocking_again_changes_nothing() -> None:
    blocked = merge_denials("", [], NOW, HOUR, block=["u-1"]).document
    later = merge_denials(blocked, [], NOW + 10 * HOUR, HOUR, block=["u-1"])
    assert not later.changed and later.document == blocked


def test_unblocking_leaves_an_ordinary_denial_of_the_sessions_issued_before_it() -> None:
    blocked = merge_denials("", [], NOW, HOUR, block=["u-1"]).document
    m = merge_denials(blocked, [Denial("u-1", NOW)], NOW, HOUR, unblock=["u-1"])
    [stmt] = statements(m.document)
    assert m.unblocked == ["u-1"]
    assert stmt["Condition"]["DateLessThan"] == {"aws:TokenIssueTime": "2026-11-24T12:00:00Z"}


def test_a_foreign_statement_shaped_like_a_block_is_never_lifted() -> None:
    lookalike = {
        "Sid": f"{SID_PREFIX}Contractors",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"StringEquals": {"identitystore:userId": "u-1"}},
    }
    doc = json.dumps({"Version": "2012-10-17", "Statement": [lookalike]})
    m = merge_denials(doc, [], NOW, HOUR, unblock=["u-1"])
    assert not m.changed and statements(m.document) == [lookalike]
