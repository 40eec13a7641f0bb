"""What a grant gives, in the terms CloudTrail records it: the accounts and permission set names
of its roles, and the session name its user signs in with. An assignment grant names its account
and permission set; a group grant gives whatever Identity Center assigns the group now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bridge.activity.matching import GrantWindow
from bridge.model import AccountAssignment, GroupMembership, as_utc, target_from_key


class IdentityCenterNames(Protocol):
    """The reads of Identity Center resolving needs (`AwsIdentityCenter` offers them)."""

    def user_name(self, user_id: str) -> str | None: ...

    def permission_set_name(self, permission_set_arn: str) -> str: ...

    def group_assignments(self, group_id: str) -> list[AccountAssignment]: ...


@dataclass(frozen=True, slots=True)
class LedgerGrant:
    """A grant as the ledger keeps it, reduced to its window."""

    grant_id: int
    ic_user_id: str
    user_name: str  # the name the grant was matched by (the Entra side's)
    target_key: str
    start: datetime
    end: datetime | None  # None: live with no end

    @classmethod
    def of(cls, row: Any) -> LedgerGrant:
        end = row.ended_at if row.state == "ended" else row.not_after
        return cls(
            row.id,
            row.ic_user_id,
            row.user_name,
            row.target_key,
            as_utc(row.not_before),
            as_utc(end),
        )


class Targets:
    """Resolves grants, each name and group looked up once per reading."""

    def __init__(self, names: IdentityCenterNames) -> None:
        self._names = names
        self._users: dict[str, str | None] = {}
        self._sets: dict[str, str] = {}
        self._groups: dict[str, list[AccountAssignment]] = {}

    def windows(self, grant: LedgerGrant) -> list[GrantWindow]:
        session = self._user(grant.ic_user_id) or grant.user_name
        return [
            GrantWindow(
                grant.grant_id,
                grant.ic_user_id,
                session,
                a.account_id,
                self._set(a.permission_set_arn),
                grant.start,
                grant.end,
            )
            for a in self._assignments(grant.target_key)
        ]

    def _assignments(self, target_key: str) -> list[AccountAssignment]:
        target = target_from_key(target_key)
        if isinstance(target, GroupMembership):
            if target.group_id not in self._groups:
                self._groups[target.group_id] = self._names.group_assignments(target.group_id)
            return self._groups[target.group_id]
        return [target]

    def _user(self, user_id: str) -> str | None:
        if user_id not in self._users:
            self._users[user_id] = self._names.user_name(user_id)
        return self._users[user_id]

    def _set(self, arn: str) -> str:
        if arn not in self._sets:
            self._sets[arn] = self._names.permission_set_name(arn)
        return self._sets[arn]


def target_label(window: GrantWindow) -> str:
    return f"{window.permission_set} @ {window.account_id}"
