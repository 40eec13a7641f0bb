"""The vocabulary: plain frozen data. Adapters translate Graph and boto3 shapes into these at
the edge; nothing past the edge sees a Graph or boto3 shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal


@dataclass(frozen=True, order=True)
class GroupMembership:
    """Membership of an Identity Center group."""

    group_id: str

    @property
    def key(self) -> str:
        return f"group:{self.group_id}"

    def __str__(self) -> str:
        return f"group {self.group_id}"


@dataclass(frozen=True, order=True)
class AccountAssignment:
    """A USER assignment of a permission set on an AWS account."""

    account_id: str
    permission_set_arn: str

    @property
    def key(self) -> str:
        return f"assignment:{self.account_id}:{self.permission_set_arn}"

    def __str__(self) -> str:
        return f"{self.permission_set_arn.rsplit('/', 1)[-1]} on {self.account_id}"


Target = GroupMembership | AccountAssignment


def target_from_key(key: str) -> Target:
    kind, _, rest = key.partition(":")
    if kind == "group":
        return GroupMembership(rest)
    if kind == "assignment":
        account, _, arn = rest.partition(":")
        return AccountAssignment(account, arn)
    raise ValueError(f"not a target key: {key!r}")


@dataclass(frozen=True)
class User:
    """An Entra principal resolved to an Identity Center user."""

    principal_id: str  # Entra object id
    name: str  # the matched attribute's value, e.g. the UPN
    ic_user_id: str


@dataclass(frozen=True)
class Grant:
    """One PIM instance granting one target to one user, for a time window."""

    user: User
    target: Target
    not_before: datetime
    not_after: datetime | None  # None: permanent ('assigned' with no end)
    source_instance_id: str
    mapping: str
    justification: str | None = None
    ticket: str | None = None
    approver: str | None = None

    def live_at(self, now: datetime) -> bool:
        return self.not_before <= now and (self.not_after is None or now < self.not_after)


class Reason(StrEnum):
    ACTIVATED = "activated"
    EXPIRED = "expired"
    DEACTIVATED = "deactivated"
    DRIFT = "drift"
    EXTENDED = "extended"


@dataclass(frozen=True, order=True)
class Binding:
    """A user holding a target: what exists (or should) in Identity Center."""

    ic_user_id: str
    target_key: str

    @property
    def target(self) -> Target:
        return target_from_key(self.target_key)


@dataclass(frozen=True)
class Change:
    op: Literal["add", "remove"]
    binding: Binding
    reason: Reason
    mapping: str | None = None
    user_name: str | None = None
    not_after: datetime | None = None

    def __str__(self) -> str:
        sign = "+" if self.op == "add" else "-"
        who = self.user_name or self.binding.ic_user_id
        return f"{sign} {who} -> {self.binding.target}  ({self.reason})"


@dataclass(frozen=True)
class Finding:
    """Something a human should see that the plan did not (or could not) act on."""

    kind: Literal[
        "drift",
        "unresolved_user",
        "withheld",
        "safety_brake",
        "unreadable_group",
        "nested_group",
        "bad_payload",
    ]
    detail: str
    mapping: str | None = None


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...] = ()
    findings: tuple[Finding, ...] = ()
    extensions: tuple[Grant, ...] = field(default=())  # ledger end times to move, no AWS write

    @property
    def adds(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.op == "add")

    @property
    def removes(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.op == "remove")

    @property
    def empty(self) -> bool:
        return not self.changes


@dataclass(frozen=True)
class MembershipExport:
    """One membership change SCIM provisioning exported, from a provisioning log entry."""

    entra_group_id: str
    principal_id: str
    op: Literal["add", "remove"]
    at: datetime
