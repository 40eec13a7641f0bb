"""Which grant a CloudTrail call belongs to: records built as CloudTrail writes them for an
Identity Center user's role session (bridge.sandbox.aws.trail.sso_record) or by hand from the
userIdentity reference."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bridge.activity.callers import call_of, parse_time
from bridge.activity.digest import Digest
from bridge.activity.matching import GrantIndex, GrantWindow
from bridge.activity.records import CorruptObject, iter_records, records_of
from bridge.sandbox.aws.trail import log_file, role_name, sso_record

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ACCOUNT = "111111111111"
PS = "AdministratorAccess"
PS_ARN = "arn:aws:sso:::permissionSet/ssoins-1/ps-1"
ROLE = role_name(PS, PS_ARN, ACCOUNT)
MIN = timedelta(minutes=1)


def record(
    at: datetime,
    issued: datetime | None = None,
    *,
    user: str = "alice@example.com",
    error: str | None = None,
    account: str = ACCOUNT,
    role: str = ROLE,
    action: str = "s3:ListBuckets",
) -> dict[str, Any]:
    return sso_record(
        account_id=account,
        role=role,
        user_name=user,
        issued_at=issued or at,
        at=at,
        action=action,
        region="us-east-1",
        error=error,
    )


def window(grant_id: int, start: datetime, end: datetime | None, **kw: Any) -> GrantWindow:
    values: dict[str, Any] = {
        "ic_user_id": "ic-alice",
        "user_name": "alice@example.com",
        "account_id": ACCOUNT,
        "permission_set": PS,
    }
    return GrantWindow(grant_id, start=start, end=end, **(values | kw))


def index(*windows: GrantWindow, after_end: timedelta = timedelta(hours=1)) -> GrantIndex:
    return GrantIndex(windows, after_end)


def digest_of(idx: GrantIndex, *records: dict[str, Any]) -> dict[int, Digest]:
    out: dict[int, Digest] = {}
    for r in records:
        call = call_of(r)
        assert call is not None
        how = idx.attribute(call)
        if how is not None:
            for gid in how.grant_ids:
                out.setdefault(gid, Digest()).add(call, how)
    return out


def test_a_call_of_the_users_permission_set_role_in_the_account_belongs_to_the_grant() -> None:
    idx = index(window(1, T0, T0 + 60 * MIN))
    d = digest_of(idx, record(T0 + 5 * MIN), record(T0 + 6 * MIN, action="ec2:DescribeInstances"))
    assert d[1].calls == 2 and d[1].first_use == T0 + 5 * MIN and d[1].last_use == T0 + 6 * MIN
    assert d[1].top_services() == ["ec2.amazonaws.com", "s3.amazonaws.com"]


@pytest.mark.parametrize(
    "other",
    [
        {"user": "bob@example.com"},
        {"account": "222222222222"},
        {"role": role_name("ReadOnly", PS_ARN, ACCOUNT)},
        {"role": "AWSReservedSSO_AdministratorAccess"},  # no suffix: not Identity Center's
    ],
)
def test_another_user_account_or_permission_set_is_not_the_grants(other: dict[str, Any]) -> None:
    idx = index(window(1, T0, T0 + 60 * MIN))
    assert idx.attribute(call_of(record(T0 + MIN, **other))) is None  # type: ignore[arg-type]


def test_a_role_named_like_identity_centers_outside_its_reserved_path_is_not_trusted() -> None:
    r = record(T0 + MIN)
    issuer = r["userIdentity"]["sessionContext"]["sessionIssuer"]
    issuer["arn"] = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
    call = call_of(r)
    assert call is not None and call.permission_set is None
    assert index(window(1, T0, T0 + 60 * MIN)).attribute(call) is None


def test_session_names_match_whatever_their_case() -> None:
    idx = index(window(1, T0, T0 + 60 * MIN, user_name="Alice@Example.com"))
    assert idx.attribute(call_of(record(T0 + MIN)))  # type: ignore[arg-type]


def test_on_behalf_of_user_id_identifies_the_user_without_the_session_name() -> None:
    r = record(T0 + MIN, user="someone-else")
    r["userIdentity"]["onBehalfOf"] = {
        "userId": "ic-alice",
        "identityStoreArn": "arn:aws:identitystore::111111111111:identitystore/d-1",
    }
    how = index(window(1, T0, T0 + 60 * MIN)).attribute(call_of(r))  # type: ignore[arg-type]
    assert how is not None and how.grant_ids == (1,)


def test_identity_center_event_on_a_users_behalf_without_a_role_counts_for_their_grant() -> None:
    r = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IdentityCenterUser",
            "accountId": ACCOUNT,
            "onBehalfOf": {
                "userId": "ic-alice",
                "identityStoreArn": "arn:aws:identitystore::111111111111:identitystore/d-1",
            },
            "credentialId": "abc",
        },
        "eventTime": "2026-11-24T12:03:00Z",
        "eventSource": "sso.amazonaws.com",
        "eventName": "ListAccounts",
        "recipientAccountId": ACCOUNT,
    }
    how = index(window(1, T0, T0 + 60 * MIN)).attribute(call_of(r))  # type: ignore[arg-type]
    assert how is not None and how.grant_ids == (1,)


def test_a_session_is_attributed_by_when_it_was_issued_not_when_it_called() -> None:
    first, second = window(1, T0, T0 + 10 * MIN), window(2, T0 + 30 * MIN, T0 + 60 * MIN)
    idx = index(first, second)
    # Issued during the first grant, still calling (and refused) during the second.
    d = digest_of(idx, record(T0 + 40 * MIN, T0 + 5 * MIN, error="AccessDenied"))
    assert set(d) == {1}
    assert d[1].denied_after_end == 1 and d[1].used_after_end == 0


def test_a_call_that_succeeded_after_the_end_is_used_after_end() -> None:
    idx = index(window(1, T0, T0 + 10 * MIN))
    end = T0 + 10 * MIN
    d = digest_of(
        idx,
        record(end + timedelta(seconds=1), T0 + MIN),  # within 2 s: the bridge's promise
        record(end + timedelta(seconds=30), T0 + MIN),
        record(end + timedelta(seconds=40), T0 + MIN, error="AccessDenied"),
    )
    assert d[1].used_after_end == 1 and d[1].used_after_end_first == end + timedelta(seconds=30)
    assert d[1].used_after_end_call == "s3.amazonaws.com ListBuckets"
    assert d[1].denied_after_end == 1


def test_a_session_issued_after_the_end_counts_against_the_grant_that_ended() -> None:
    end = T0 + 10 * MIN
    d = digest_of(index(window(1, T0, end)), record(end + 5 * MIN, end + 4 * MIN))
    assert d[1].used_after_end == 1


def test_a_session_issued_long_after_any_grant_belongs_to_none() -> None:
    idx = index(window(1, T0, T0 + 10 * MIN), after_end=timedelta(minutes=30))
    assert idx.attribute(call_of(record(T0 + 2 * 60 * MIN))) is None  # type: ignore[arg-type]


def test_overlapping_grants_of_the_same_access_end_together() -> None:
    # The second grant continues the access: a call after the first's end is no anomaly.
    idx = index(window(1, T0, T0 + 10 * MIN), window(2, T0 + 5 * MIN, T0 + 30 * MIN))
    d = digest_of(idx, record(T0 + 20 * MIN, T0 + 2 * MIN))
    assert d[1].calls == 1 and d[1].used_after_end == 0


def test_a_call_while_two_grants_overlap_counts_for_both() -> None:
    idx = index(window(1, T0, T0 + 10 * MIN), window(2, T0 + 5 * MIN, T0 + 30 * MIN))
    how = idx.attribute(call_of(record(T0 + 7 * MIN)))  # type: ignore[arg-type]
    assert how is not None and how.grant_ids == (1, 2)


def test_live_grant_without_an_end_has_no_after_end() -> None:
    d = digest_of(index(window(1, T0, None)), record(T0 + 900 * MIN))
    assert d[1].calls == 1 and d[1].used_after_end == 0


def test_digests_of_disjoint_files_add_up() -> None:
    idx = index(window(1, T0, T0 + 10 * MIN))
    a = digest_of(idx, record(T0 + MIN), record(T0 + 11 * MIN, T0 + MIN))[1]
    b = digest_of(idx, record(T0 + 2 * MIN, error="ThrottlingException"))[1]
    both = a.merge(b)
    assert (both.calls, both.errors, both.used_after_end) == (3, 1, 1)
    assert both.first_use == T0 + MIN and both.last_use == T0 + 11 * MIN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T12:00:00Z", T0),
        ("20261124T120000Z", T0),
        ("2026-11-24T13:00:00+01:00", T0),
        ("", None),
        ("soon", None),
    ],
)
def test_cloudtrail_times_in_either_format(text: str, expected: datetime | None) -> None:
    assert parse_time(text) == expected


READERS = {
    "streamed": lambda body: iter_records(io.BytesIO(body)),
    "whole": records_of,
}


@pytest.mark.parametrize("read", READERS.values(), ids=READERS.keys())
def test_a_log_file_is_read_record_by_record(read: Any) -> None:
    records = [record(T0 + i * MIN) for i in range(500)]
    assert [r["eventID"] for r in read(log_file(records))] == [r["eventID"] for r in records]


def test_a_large_log_file_is_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.activity import records as module

    monkeypatch.setattr(module, "WHOLE", 1000)
    body = log_file([record(T0 + i * MIN) for i in range(50)])
    assert len(list(records_of(body))) == 50


@pytest.mark.parametrize("read", READERS.values(), ids=READERS.keys())
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (log_file([record(T0)] * 200)[:-40], "gzip"),
        (b"not gzip at all", "gzip"),
        (gzip.compress(b'{"Records": [{"eventTime": "x"}'), "truncated"),
        (gzip.compress(b'{"Events": []}'), '"Records"'),
        (gzip.compress(json.dumps({"Records": [1, 2]}).encode()), "not an object"),
    ],
    ids=["cut-off", "not-gzip", "unclosed-record", "no-records", "not-objects"],
)
def test_a_corrupt_or_truncated_log_file_says_what_is_wrong(
    body: bytes, reason: str, read: Any
) -> None:
    with pytest.raises(CorruptObject, match=reason):
        list(read(body))
