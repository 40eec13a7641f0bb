"""The ports between the core and the edges. The core (reconcile, revoke, service) depends only
on these; adapters (graph/, identity_center/, ledger.py) and the sandbox implement them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bridge.model import Target


@dataclass(frozen=True)
class PimInstance:
    """One PIM for Groups assignment schedule instance, already normalised at the edge.

    `assignment_type` and `member_type` are lower-cased ('activated'/'assigned',
    'direct'/'group'): Microsoft's examples capitalise them, the schema does not.
    """

    id: str
    group_id: str
    principal_id: str
    principal_type: str  # 'user', 'group', 'servicePrincipal', or 'unknown'
    access_id: str  # 'member' | 'owner'
    assignment_type: str  # 'activated' | 'assigned'
    member_type: str  # 'direct' | 'group'
    start: datetime
    end: datetime | None
    # Attributes of the principal as Graph returned them: userPrincipalName, mail, displayName.
    principal: Mapping[str, str] = field(default_factory=dict)
    justification: str | None = None
    ticket: str | None = None
    approver: str | None = None


@dataclass(frozen=True)
class GroupRead:
    """What Graph said about one group. A failed read carries `error` and no instances, and the
    core must never take it for an empty group."""

    group_id: str
    instances: tuple[PimInstance, ...] = ()
    error: str | None = None
    skipped: tuple[str, ...] = ()  # items dropped as malformed, with why

    @property
    def ok(self) -> bool:
        return self.error is None


class PimSource(Protocol):
    def read_groups(
        self, group_ids: Sequence[str], *, deadline: float | None = None
    ) -> dict[str, GroupRead]:
        """Read every group's assignment schedule instances, giving up after `deadline`
        seconds when given. Never raises for one group's failure: that group's GroupRead
        carries the error."""
        ...


class IdentityCenter(Protocol):
    def find_user_id(self, attribute: str, value: str) -> str | None:
        """Identity Store user id for `attribute == value`, or None when no such user."""
        ...

    def resolve_group(self, name_or_id: str) -> str:
        """Group id from a display name or an id. Raises SinkError when it does not exist."""
        ...

    def resolve_permission_set(self, name_or_arn: str) -> str:
        """Permission set ARN from a name or an ARN. Raises SinkError when it does not exist."""
        ...

    def holders(self, target: Target) -> set[str]:
        """Identity Store user ids that hold `target` now (group members, USER assignments)."""
        ...

    def add(self, user_id: str, target: Target) -> None:
        """Idempotent; returns when the change has taken effect (async requests polled)."""
        ...

    def remove(self, user_id: str, target: Target) -> None:
        """Idempotent; returns when the change has taken effect (async requests polled)."""
        ...


class DenialSink(Protocol):
    """The part of Identity Center that session denial needs."""

    def session_duration(self, permission_set_arn: str) -> timedelta: ...

    def get_inline_policy(self, permission_set_arn: str) -> str: ...

    def put_inline_policy(self, permission_set_arn: str, document: str) -> None: ...

    def provision(self, permission_set_arn: str, account_id: str) -> None: ...


class DenialLedger(Protocol):
    def record_denials(
        self,
        at: datetime,
        permission_set_arn: str,
        users: dict[str, set[str]],
        status: str,
        done_at: datetime | None,
        detail: str | None = None,
    ) -> None: ...


class PolicyTarget(Protocol):
    """Where denial statements live: a permission set's inline policy, or one SCP."""

    name: str  # recorded in the ledger: the permission set ARN, or "scp:<policy id>"
    limit: int

    def read(self) -> str: ...

    def write(self, document: str) -> None: ...

    def session_duration(self) -> timedelta: ...

    def enforce(self, accounts: Sequence[str]) -> None:
        """Make the written policy take effect in these accounts (and wait for it)."""
        ...


class Clock(Protocol):
    """Wall time, and a monotonic reading in seconds that no clock setting moves: the two
    together tell a jump of the wall clock from time passing."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class Timers(Protocol):
    def set(self, job_id: str, when: datetime, fn: Callable[[], object]) -> None:
        """Run `fn` at `when` (at once if it has passed). Same id: replaced."""
        ...

    def cancel(self, job_id: str) -> None: ...

    def pending(self) -> dict[str, datetime]: ...


class Election(Protocol):
    def try_acquire(self) -> bool:
        """Become leader if nobody is; True while this process is the leader."""
        ...

    def still_leader(self) -> bool: ...

    def release(self) -> None: ...
