"""Simulated AWS role sessions, so the sandbox can show what Identity Center cannot tell us:
whether a session issued before a revocation still works.

A session is issued only while the user holds the permission set on the account (a USER
assignment, or membership of a group that has it). Whether it may act is decided as IAM would
for the statements that matter here: it is dead after the permission set's session duration, and
an explicit Deny in the inline policy *as last provisioned to that account* wins when its
`identitystore:userId` (StringEquals) and `aws:TokenIssueTime` (DateLessThan) conditions match.
"""

from __future__ import annotations

import fnmatch
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.identity_center.adapter import parse_iso_duration
from bridge.sandbox.aws import AwsSandbox


class SessionRefused(RuntimeError):
    """The user holds no access through this permission set on this account."""


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    permission_set_arn: str
    account_id: str
    issued_at: datetime
    expires_at: datetime


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _condition_holds(cond: dict[str, Any], session: Session) -> bool:
    context = {
        "identitystore:userid": session.user_id,
        "aws:tokenissuetime": session.issued_at,
    }
    for operator, pairs in cond.items():
        for key, expected in pairs.items():
            actual = context.get(key.lower())
            if actual is None:
                return False  # a key the sandbox does not model never matches
            values = _as_list(expected)
            if operator == "StringEquals" and actual not in values:
                return False
            if operator == "DateLessThan" and not any(actual < _time(v) for v in values):
                return False
            if operator not in ("StringEquals", "DateLessThan"):
                return False
    return True


def denied(policy: str, session: Session, action: str) -> bool:
    if not policy.strip():
        return False
    statements = _as_list(json.loads(policy).get("Statement", []))
    for stmt in statements:
        if stmt.get("Effect") != "Deny":
            continue
        if not any(fnmatch.fnmatchcase(action, a) for a in _as_list(stmt.get("Action", []))):
            continue
        if _condition_holds(stmt.get("Condition", {}), session):
            return True
    return False


class SessionSimulator:
    def __init__(self, aws: AwsSandbox) -> None:
        self.aws = aws
        self.sso = aws.client("sso-admin", max_attempts=3)
        self.ids = aws.client("identitystore", max_attempts=3)

    def _holds(self, user_id: str, permission_set_arn: str, account_id: str) -> bool:
        assigned = self.aws.assignments(account_id, permission_set_arn)
        if ("USER", user_id) in assigned:
            return True
        groups = {pid for kind, pid in assigned if kind == "GROUP"}
        return any(user_id in self.aws.members(g) for g in groups)

    def issue(
        self,
        user_id: str,
        permission_set_arn: str,
        account_id: str,
        issued_at: datetime | None = None,
    ) -> Session:
        if not self._holds(user_id, permission_set_arn, account_id):
            raise SessionRefused(f"{user_id} holds {permission_set_arn} on {account_id}: no")
        described = self.sso.describe_permission_set(
            InstanceArn=self.aws.instance_arn, PermissionSetArn=permission_set_arn
        )["PermissionSet"]
        duration = parse_iso_duration(described.get("SessionDuration", "PT1H"))
        at = issued_at or datetime.now(UTC)
        return Session(
            str(uuid.uuid4()), user_id, permission_set_arn, account_id, at, at + duration
        )

    def allowed(
        self, session: Session, action: str = "s3:ListAllMyBuckets", now: datetime | None = None
    ) -> bool:
        now = now or datetime.now(UTC)
        if now >= session.expires_at:
            return False
        policy = self.aws.ext.provisioned_policy.get(
            (session.permission_set_arn, session.account_id), ""
        )
        return not denied(policy, session, action)

    @staticmethod
    def lifetime_left(session: Session, now: datetime | None = None) -> timedelta:
        return max(timedelta(0), session.expires_at - (now or datetime.now(UTC)))
