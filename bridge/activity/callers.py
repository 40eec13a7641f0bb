"""Who made a CloudTrail record's call, as far as a grant can be told from it.

From CloudTrail's userIdentity reference and Identity Center's documentation: a user signed in
through a permission set calls as an assumed role whose session issuer is the role Identity
Center provisioned in that account, `AWSReservedSSO_<permission set name>_<suffix>` under the
AWS-reserved path `/aws-reserved/sso.amazonaws.com/`, and whose session name is the user's
Identity Center user name. Records made on a user's behalf (Identity Center's own events, and
trusted identity propagation) carry the Identity Store user id in `onBehalfOf.userId`. When the
role session was issued is `sessionContext.attributes.creationDate` (the `aws:TokenIssueTime`
that session denial compares).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

SSO_ROLE = re.compile(r"AWSReservedSSO_(.+)_[0-9a-f]{16}")
# A customer may name a role AWSReservedSSO_… but cannot create one under AWS's reserved path.
RESERVED_PATH = ":role/aws-reserved/sso.amazonaws.com/"
DENIED = ("AccessDenied", "Unauthorized", "AuthorizationError")


# Not frozen: a frozen dataclass's __init__ costs a third of reading a record.
@dataclass(slots=True)
class Call:
    """One record, reduced to what matching and the digest need."""

    at: datetime
    account_id: str
    service: str  # eventSource, e.g. s3.amazonaws.com
    name: str  # eventName
    error: str | None  # errorCode
    permission_set: str | None  # from the session issuer's role; None: not a permission set's
    session_name: str | None  # lower-cased: Identity Center user names are case-insensitive
    user_id: str | None  # onBehalfOf.userId
    issued_at: datetime | None  # the session's creationDate

    @property
    def denied(self) -> bool:
        return self.error is not None and any(word in self.error for word in DENIED)

    @property
    def from_identity_center(self) -> bool:
        return self.permission_set is not None or self.user_id is not None


def parse_time(value: Any) -> datetime | None:
    """CloudTrail's times: `2026-11-24T12:00:00Z`, or the basic `20261124T120000Z` older
    session attributes use."""
    if not isinstance(value, str) or not value:
        return None
    return _parse_time(value)


# A session's creationDate repeats on every call it makes; a file's calls share seconds.
@lru_cache(maxsize=65536)
def _parse_time(value: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def call_of(record: dict[str, Any]) -> Call | None:
    """The call a record describes; None for a record without a time or an account."""
    at = parse_time(record.get("eventTime"))
    if at is None:
        return None
    identity = record.get("userIdentity") or {}
    if not isinstance(identity, dict):
        identity = {}
    context = identity.get("sessionContext") or {}
    issuer = (context.get("sessionIssuer") or {}) if isinstance(context, dict) else {}
    permission_set, session_name = _sso_role(identity, issuer)
    account = (
        (issuer.get("accountId") if permission_set else None)
        or record.get("recipientAccountId")
        or identity.get("accountId")
    )
    if not account:
        return None
    attributes = (context.get("attributes") or {}) if isinstance(context, dict) else {}
    behalf = identity.get("onBehalfOf") or {}
    return Call(
        at=at,
        account_id=str(account),
        service=str(record.get("eventSource") or "unknown"),
        name=str(record.get("eventName") or "unknown"),
        error=record.get("errorCode") or None,
        permission_set=permission_set,
        session_name=session_name,
        user_id=behalf.get("userId") if isinstance(behalf, dict) else None,
        issued_at=parse_time(attributes.get("creationDate")),
    )


def _sso_role(identity: dict[str, Any], issuer: dict[str, Any]) -> tuple[str | None, str | None]:
    """(permission set name, session name) of an Identity Center role session, else Nones."""
    if identity.get("type") != "AssumedRole" or not isinstance(issuer, dict):
        return None, None
    issuer_arn = str(issuer.get("arn") or "")
    permission_set = _permission_set(str(issuer.get("userName") or ""), issuer_arn)
    if permission_set is None:
        return None, None
    return permission_set, _session_name(
        str(identity.get("arn") or ""), str(identity.get("principalId") or "")
    )


# Every call of a role repeats its issuer, and every call of a session its names.
@lru_cache(maxsize=65536)
def _permission_set(role: str, issuer_arn: str) -> str | None:
    m = SSO_ROLE.fullmatch(role or issuer_arn.rsplit("/", 1)[-1])
    if m is None or (issuer_arn and RESERVED_PATH not in issuer_arn):
        return None
    return m.group(1)


@lru_cache(maxsize=65536)
def _session_name(arn: str, principal_id: str) -> str | None:
    # arn:aws:sts::<account>:assumed-role/<role>/<session name>; principalId is <role id>:<name>
    session = arn.split("/", 2)[2] if arn.count("/") >= 2 else ""
    return (session or principal_id.partition(":")[2]).lower() or None
