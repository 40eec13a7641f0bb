"""Simulated AWS role sessions, to show which sessions a permission set's inline policy denies.

Only what the bridge's session denial (docs/architecture.md) relies on is evaluated: Deny
statements whose Action matches (with `*` wildcards) and whose every condition holds, among
`StringEquals` on `identitystore:userId`, `DateLessThan` on `aws:TokenIssueTime` and
`DateGreaterThanEquals` on `aws:CurrentTime` (the moment of the call). A statement
with any other condition is taken not to apply, since the simulator cannot judge it. Allow
statements are not evaluated: a session is allowed unless denied or past its duration.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Session:
    session_id: str
    user_id: str
    permission_set_arn: str
    account_id: str
    issued_at: datetime
    duration: timedelta


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _condition_holds(
    operator: str, key: str, expected: Any, session: Session, now: datetime
) -> bool:
    key = key.lower()
    if operator == "StringEquals" and key == "identitystore:userid":
        return session.user_id in _as_list(expected)
    if operator == "DateLessThan" and key == "aws:tokenissuetime":
        return any(session.issued_at < _parse_time(str(v)) for v in _as_list(expected))
    if operator == "DateGreaterThanEquals" and key == "aws:currenttime":
        return any(now >= _parse_time(str(v)) for v in _as_list(expected))
    return False


def _statement_denies(
    statement: dict[str, Any], session: Session, action: str, now: datetime
) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    patterns = _as_list(statement.get("Action", []))
    if not any(fnmatch.fnmatchcase(action.lower(), str(p).lower()) for p in patterns):
        return False
    conditions: dict[str, dict[str, Any]] = statement.get("Condition", {})
    return all(
        _condition_holds(operator, key, expected, session, now)
        for operator, pairs in conditions.items()
        for key, expected in pairs.items()
    )


def denied_by(policy: str, session: Session, action: str, now: datetime) -> bool:
    """Whether the inline policy document denies `action` to `session` at `now`."""
    if not policy.strip():
        return False
    statements = _as_list(json.loads(policy).get("Statement", []))
    return any(_statement_denies(s, session, action, now) for s in statements)


def is_allowed(policy: str, session: Session, action: str, now: datetime) -> bool:
    if now >= session.issued_at + session.duration:
        return False
    return not denied_by(policy, session, action, now)
