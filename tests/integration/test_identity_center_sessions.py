"""Simulated role sessions in the AWS sandbox: the stale session is denied, a fresh one is not."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bridge.sandbox.aws.sandbox import AwsSandbox
from tests.integration.aws_fixtures import aws_credentials, aws_sandbox

__all__ = ["aws_credentials", "aws_sandbox"]
pytestmark = pytest.mark.integration

ACCOUNT = "111111111111"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def deny_sessions_before(user_id: str, when: datetime, **extra: object) -> dict[str, object]:
    return {
        "Sid": "PimBridgeDeny1",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {
            "StringEquals": {"identitystore:userId": user_id},
            "DateLessThan": {"aws:TokenIssueTime": when.isoformat().replace("+00:00", "Z")},
            **extra,
        },
    }


def put_policy(sandbox: AwsSandbox, ps: str, *statements: dict[str, object]) -> None:
    sso = sandbox.client("sso-admin")
    sso.put_inline_policy_to_permission_set(
        InstanceArn=sandbox.instance_arn,
        PermissionSetArn=ps,
        InlinePolicy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
    )
    sso.provision_permission_set(
        InstanceArn=sandbox.instance_arn,
        PermissionSetArn=ps,
        TargetType="AWS_ACCOUNT",
        TargetId=ACCOUNT,
    )


def test_policy_change_reaches_sessions_only_once_provisioned(aws_sandbox: AwsSandbox) -> None:
    ada = aws_sandbox.create_user("ada@example.com")
    ps = aws_sandbox.create_permission_set("Admin")
    aws_sandbox.assign(ACCOUNT, ps, ada)
    session = aws_sandbox.issue_session(ada, ps, ACCOUNT, T0)
    aws_sandbox.client("sso-admin").put_inline_policy_to_permission_set(
        InstanceArn=aws_sandbox.instance_arn,
        PermissionSetArn=ps,
        InlinePolicy=json.dumps(
            {"Version": "2012-10-17", "Statement": [deny_sessions_before(ada, T0 + timedelta(1))]}
        ),
    )
    assert aws_sandbox.is_allowed(session, now=T0)
    put_policy(aws_sandbox, ps, deny_sessions_before(ada, T0 + timedelta(1)))
    assert not aws_sandbox.is_allowed(session, now=T0)


def test_session_issued_before_revocation_is_denied_and_a_later_one_allowed(
    aws_sandbox: AwsSandbox,
) -> None:
    ada = aws_sandbox.create_user("ada@example.com")
    bob = aws_sandbox.create_user("bob@example.com")
    ps = aws_sandbox.create_permission_set("Admin", session_duration="PT4H")
    aws_sandbox.assign(ACCOUNT, ps, ada)
    aws_sandbox.assign(ACCOUNT, ps, bob)
    stale = aws_sandbox.issue_session(ada, ps, ACCOUNT, T0)
    bobs = aws_sandbox.issue_session(bob, ps, ACCOUNT, T0)

    put_policy(aws_sandbox, ps, deny_sessions_before(ada, T0 + timedelta(hours=1)))
    fresh = aws_sandbox.issue_session(ada, ps, ACCOUNT, T0 + timedelta(hours=2))

    later = T0 + timedelta(hours=2, minutes=5)
    assert not aws_sandbox.is_allowed(stale, now=later)
    assert aws_sandbox.is_allowed(fresh, now=later)
    assert aws_sandbox.is_allowed(bobs, now=later)


def test_no_session_without_an_assignment_but_one_through_a_group(
    aws_sandbox: AwsSandbox,
) -> None:
    ada = aws_sandbox.create_user("ada@example.com")
    group = aws_sandbox.create_group("Admins")
    ps = aws_sandbox.create_permission_set("Admin")

    with pytest.raises(PermissionError):
        aws_sandbox.issue_session(ada, ps, ACCOUNT, T0)
    aws_sandbox.assign(ACCOUNT, ps, group, principal_type="GROUP")
    aws_sandbox.add_member(group, ada)
    assert aws_sandbox.is_allowed(aws_sandbox.issue_session(ada, ps, ACCOUNT, T0), now=T0)


def test_session_ends_with_the_permission_set_session_duration(aws_sandbox: AwsSandbox) -> None:
    ada = aws_sandbox.create_user("ada@example.com")
    ps = aws_sandbox.create_permission_set("Admin", session_duration="PT1H")
    aws_sandbox.assign(ACCOUNT, ps, ada)
    session = aws_sandbox.issue_session(ada, ps, ACCOUNT, T0)

    assert aws_sandbox.is_allowed(session, now=T0 + timedelta(minutes=59))
    assert not aws_sandbox.is_allowed(session, now=T0 + timedelta(hours=1))


def test_denials_apply_only_to_matching_actions_and_judgeable_conditions(
    aws_sandbox: AwsSandbox,
) -> None:
    ada = aws_sandbox.create_user("ada@example.com")
    ps = aws_sandbox.create_permission_set("Admin")
    aws_sandbox.assign(ACCOUNT, ps, ada)
    session = aws_sandbox.issue_session(ada, ps, ACCOUNT, T0)
    only_s3_delete = deny_sessions_before(ada, T0 + timedelta(hours=1)) | {"Action": "s3:Delete*"}
    with_mfa = deny_sessions_before(
        ada, T0 + timedelta(hours=1), Bool={"aws:MultiFactorAuthPresent": "false"}
    )

    put_policy(aws_sandbox, ps, only_s3_delete, with_mfa)

    assert aws_sandbox.is_allowed(session, "s3:ListBucket", now=T0)
    assert not aws_sandbox.is_allowed(session, "s3:DeleteObject", now=T0)
