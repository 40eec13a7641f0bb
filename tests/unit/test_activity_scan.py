"""Reading the trail into per-grant digests: moto's S3 in process (mock_aws), a real ledger in
memory, Identity Center's names from a stub."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bridge.activity.job import digest_activity
from bridge.activity.objects import TrailUnreadable
from bridge.activity.targets import LedgerGrant
from bridge.config import Config, config_from_dict
from bridge.model import (
    AccountAssignment,
    Ended,
    Grant,
    GrantVerdicts,
    GroupMembership,
    Reason,
    User,
)
from bridge.sandbox.aws.trail import ORG_ID, SandboxTrail, role_name, sso_record
from bridge.store import Ledger

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
PROD, DEV = "111111111111", "222222222222"
PS, PS_ARN = "AdministratorAccess", "arn:aws:sso:::permissionSet/ssoins-1/ps-1"
BUCKET = "org-trail"
REGION = "us-east-1"


class Names:
    """Identity Center as resolving sees it: alice and bob, one permission set, one group."""

    def __init__(self) -> None:
        self.groups: dict[str, list[AccountAssignment]] = {
            "g-dev": [AccountAssignment(DEV, PS_ARN)]
        }

    def user_name(self, user_id: str) -> str | None:
        return {"ic-alice": "alice@example.com", "ic-bob": "bob@example.com"}.get(user_id)

    def permission_set_name(self, permission_set_arn: str) -> str:
        return PS

    def group_assignments(self, group_id: str) -> list[AccountAssignment]:
        return self.groups.get(group_id, [])


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def trail(s3: Any) -> SandboxTrail:
    return SandboxTrail(s3, BUCKET, REGION, str, str)


def config(**activity: Any) -> Config:
    return config_from_dict(
        {
            "aws": {"identity_store_id": "d-1", "instance_arn": "arn:aws:sso:::instance/ssoins-1"},
            "mappings": [{"name": "m", "entra_group_id": "g-1", "identity_center_group": "G"}],
            "activity": {
                "cloudtrail_bucket": BUCKET,
                "organization_id": ORG_ID,
                "after_end": "30m",
                "delivery_delay": "15m",
                **activity,
            },
        },
        {},
    )


def grant(ledger: Ledger, who: str, start: datetime, end: datetime, key: str = "prod") -> Grant:
    target = GroupMembership("g-dev") if key == "group" else AccountAssignment(PROD, PS_ARN)
    g = Grant(
        User(f"p-{who}", f"{who}@example.com", f"ic-{who}"),
        target,
        start,
        end,
        f"i-{who}-{start:%H%M}",
        "m",
    )
    ledger.record_verdicts(GrantVerdicts(new=(g,)), start)
    ledger.record_verdicts(GrantVerdicts(ended=(Ended(g, Reason.EXPIRED, end),)), end)
    return g


def call(
    who: str, at: datetime, issued: datetime | None = None, account: str = PROD, **kw: Any
) -> dict[str, Any]:
    return sso_record(
        account_id=account,
        role=role_name(PS, PS_ARN, account),
        user_name=f"{who}@example.com",
        issued_at=issued or at,
        at=at,
        action=kw.pop("action", "s3:ListBuckets"),
        region=REGION,
        **kw,
    )


def scan(ledger: Ledger, s3: Any, now: datetime, **activity: Any) -> Any:
    grants = [LedgerGrant.of(r) for r in ledger.activity_grants(T0 - 1000 * MIN, now)]
    return digest_activity(config(**activity), ledger, grants, now, names=Names(), s3=s3)


def activity_of(ledger: Ledger) -> dict[int, Any]:
    ids = [r.id for r in ledger.activity_grants(T0 - 1000 * MIN, T0 + 10000 * MIN)]
    return ledger.activity_of(ids)


@pytest.fixture
def ledger() -> Ledger:
    return Ledger("sqlite://")


def test_a_grants_calls_are_digested_from_the_days_log_files(
    ledger: Ledger, trail: SandboxTrail, s3: Any
) -> None:
    grant(ledger, "alice", T0, T0 + 60 * MIN)
    trail.put(
        PROD,
        [call("alice", T0 + 5 * MIN), call("alice", T0 + 6 * MIN, action="ec2:DescribeInstances")],
        T0 + 10 * MIN,
    )
    trail.put(
        PROD, [call("alice", T0 + 61 * MIN, T0 + 5 * MIN, error="AccessDenied")], T0 + 65 * MIN
    )
    result = scan(ledger, s3, T0 + 300 * MIN)
    assert result.totals.objects == 2 and result.totals.attributed == 3
    (a,) = activity_of(ledger).values()
    assert a.complete and a.targets == (f"{PS} @ {PROD}",)
    assert (a.digest.calls, a.digest.errors, a.digest.denied_after_end) == (3, 1, 1)
    assert a.digest.first_use == T0 + 5 * MIN and a.digest.last_use == T0 + 6 * MIN


def test_a_second_report_reads_nothing_it_has_already(
    ledger: Ledger, trail: SandboxTrail, s3: Any
) -> None:
    grant(ledger, "alice", T0, T0 + 60 * MIN)
    trail.put(PROD, [call("alice", T0 + 5 * MIN)], T0 + 10 * MIN)
    scan(ledger, s3, T0 + 300 * MIN)
    again = scan(ledger, s3, T0 + 400 * MIN)
    assert again.totals.objects == 0 and again.grants == 0
    (a,) = activity_of(ledger).values()
    assert a.digest.calls == 1


def test_a_live_grant_is_read_on_from_where_the_last_reading_stopped(
    ledger: Ledger, trail: SandboxTrail, s3: Any
) -> None:
    g = Grant(
        User("p-alice", "alice@example.com", "ic-alice"),
        AccountAssignment(PROD, PS_ARN),
        T0,
        T0 + 600 * MIN,
        "i-1",
        "m",
    )
    ledger.record_verdicts(GrantVerdicts(new=(g,)), T0)
    trail.put(PROD, [call("alice", T0 + 5 * MIN)], T0 + 10 * MIN)
    first = scan(ledger, s3, T0 + 20 * MIN)
    trail.put(PROD, [call("alice", T0 + 25 * MIN)], T0 + 30 * MIN)
    second = scan(ledger, s3, T0 + 40 * MIN)
    assert (first.totals.objects, second.totals.objects) == (1, 1)
    (a,) = activity_of(ledger).values()
    assert a.digest.calls == 2 and not a.complete


def test_only_the_days_accounts_and_regions_a_grant_spans_are_read(
    ledger: Ledger, trail: SandboxTrail, s3: Any
) -> None:
    grant(ledger, "alice", T0, T0 + 60 * MIN)
    trail.put(PROD, [call("alice", T0 + 5 * MIN)], T0 + 10 * MIN)
    trail.put(PROD, [call("alice", T0 - 200 * MIN)], T0 - 190 * MIN)  # before the grant
    trail.put(PROD, [call("alice", T0 + 5 * MIN)], T0 + 48 * 60 * MIN)  # days after
    trail.put(DEV, [call("alice", T0 + 5 * MIN, account=DEV)], T0 + 10 * MIN)  # another account
    s3.put_object(Bucket=BUCKET, Key=trail.key(PROD, T0 + 10 * MIN, region="eu-west-1"), Body=b"x")
    result = scan(ledger, s3, T0 + 4000 * MIN, regions=[REGION])
    assert result.totals.objects == 1 and result.totals.skipped == []


def test_without_configured_regions_every_region_of_the_account_is_read(
    ledger: Ledger, trail: SandboxTrail, s3: Any
) -> None:
    grant(ledger, "alice", T0, T0 + 60 * MIN)
    for region in ("eu-west-1", "us-east-1"):
        records = [call("alice", T0 + 5 * MIN)]
        s3.put_object(
            Bucket=BUCKET,
            Key=trail.key(PROD, T0 + 10 * MIN, region=region),
            Body=gzip.compress(b'{"Records": ' + json.dumps(records).encode() + b"}"),
        )
    assert scan(ledger, s3, T0 + 300 * MIN).totals.objects == 2
    (a,) = activity_of(ledger).values()
    assert a.digest.calls == 2


def test_a_group_grant_is_read_in_the_accounts_its_group_is_assigned(
    ledger: Ledger, trail: SandboxTrail, s3: Any
) -> None:
    grant(ledger, "alice", T0, T0 + 60 * MIN, key="group")
    trail.put(DEV, [call("alice", T0 + 5 * MIN, account=DEV)], T0 + 10 * MIN)
    scan(ledger, s3, T0 + 300 * MIN, regions=[REGION])
    (a,) = activity_of(ledger).values()
    assert a.targets == (f"{PS} @ {DEV}",) and a.digest.calls == 1


def test_a_corrupt_log_file_is_skipped_named_and_counted(
    ledger: Ledger, trail: SandboxTrail, s3: Any
) -> None:
    grant(ledger, "alice", T0, T0 + 60 * MIN)
    trail.put(PROD, [call("alice", T0 + 5 * MIN)], T0 + 10 * MIN)
    bad = trail.key(PROD, T0 + 11 * MIN)
    whole = gzip.compress(
        b'{"Records": [' + b", ".join([b'{"eventTime": "2026-11-24T12:05:00Z"}'] * 100) + b"]}"
    )
    s3.put_object(Bucket=BUCKET, Key=bad, Body=whole[: len(whole) // 2])
    result = scan(ledger, s3, T0 + 300 * MIN, regions=[REGION])
    assert [k for k, _ in result.totals.skipped] == [bad]
    assert "1 skipped: " + bad in result.line()
    assert result.totals.objects == 1 and result.totals.records == 1


def test_identity_center_sessions_no_grant_explains_are_unattributed(
    ledger: Ledger, trail: SandboxTrail, s3: Any
) -> None:
    grant(ledger, "alice", T0, T0 + 60 * MIN)
    service_role = call("alice", T0 + 6 * MIN)
    service_role["userIdentity"]["sessionContext"]["sessionIssuer"]["userName"] = "deploy-role"
    service_role["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
        f"arn:aws:iam::{PROD}:role/deploy-role"
    )
    trail.put(
        PROD, [call("alice", T0 + 5 * MIN), call("bob", T0 + 5 * MIN), service_role], T0 + 10 * MIN
    )
    t = scan(ledger, s3, T0 + 300 * MIN, regions=[REGION]).totals
    assert (t.records, t.attributed, t.unattributed, t.other) == (3, 1, 1, 1)


@pytest.mark.parametrize("missing", ["bucket", "access"])
def test_a_bucket_that_cannot_be_read_stops_the_reading_and_keeps_nothing(
    ledger: Ledger, trail: SandboxTrail, s3: Any, missing: str
) -> None:
    grant(ledger, "alice", T0, T0 + 60 * MIN)
    if missing == "bucket":
        bucket, client = "no-such-trail", s3
    else:
        bucket, client = BUCKET, _denying(s3)
    with pytest.raises(TrailUnreadable) as exc:
        scan(ledger, client, T0 + 300 * MIN, cloudtrail_bucket=bucket, regions=[REGION])
    assert "\n" not in str(exc.value)
    assert ("NoSuchBucket" if missing == "bucket" else "AccessDenied") in str(exc.value)
    assert activity_of(ledger) == {}
    trail.put(PROD, [call("alice", T0 + 5 * MIN)], T0 + 10 * MIN)
    assert scan(ledger, s3, T0 + 300 * MIN, regions=[REGION]).totals.objects == 1


def _denying(s3: Any) -> Any:
    from botocore.exceptions import ClientError

    class Denying:
        def head_bucket(self, **kw: Any) -> None:
            s3.head_bucket(**kw)

        def get_paginator(self, name: str) -> Any:
            class Pages:
                def paginate(self, **kw: Any) -> Any:
                    raise ClientError(
                        {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}},
                        "ListObjectsV2",
                    )

            return Pages()

    return Denying()


def test_a_layout_with_the_days_first_is_listed_a_day_at_a_time(
    ledger: Ledger, trail: SandboxTrail, s3: Any
) -> None:
    from bridge.activity.layout import TrailLayout
    from bridge.sandbox.aws.trail import log_file

    template = "logs/{yyyy}/{mm}/{dd}/{account}/{region}/"
    layout = TrailLayout(template)
    assert layout.dates_folder(PROD, REGION) is None and layout.regions_folder(PROD) is None
    grant(ledger, "alice", T0 + 23 * 60 * MIN, T0 + 26 * 60 * MIN)  # over midnight
    for delivered in (T0 + 23 * 60 * MIN + 10 * MIN, T0 + 25 * 60 * MIN):
        key = layout.day(PROD, REGION, delivered.date()) + layout.file_prefix(
            PROD, REGION, delivered
        )
        body = log_file([call("alice", delivered - MIN)])
        s3.put_object(Bucket=BUCKET, Key=f"{key}_0123456789abcdef.json.gz", Body=body)
    result = scan(ledger, s3, T0 + 4000 * MIN, cloudtrail_prefix=template, regions=[REGION])
    assert result.totals.objects == 2
    (a,) = activity_of(ledger).values()
    assert a.digest.calls == 2
