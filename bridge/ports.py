"""The ports between the core and the edges. The core (reconcile, revoke, service) depends only
on these; adapters (graph/, identity_center/, store/) and the sandbox implement them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from bridge.model import Binding, Change, Finding, Grant, GrantVerdicts, Target


@dataclass(frozen=True, slots=True)
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
    ticket_system: str | None = None


@dataclass(frozen=True)
class GroupRead:
    """What Graph said about one group. A failed read carries `error` and no instances, and the
    core must never take it for an empty group."""

    group_id: str
    instances: tuple[PimInstance, ...] = ()
    error: str | None = None
    skipped: tuple[str, ...] = ()  # items dropped as malformed, with why
    # Instances listed before and gone now that a request ended early: id -> PIM's own time of
    # that request (its createdDateTime), to measure revocation from.
    ended: Mapping[str, datetime] = field(default_factory=dict)

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


@dataclass(frozen=True)
class DeltaQuery:
    """One membership delta query: at most 50 groups, and the link the last round ended with
    (None: an initial round, which lists every group as changed)."""

    key: str
    group_ids: tuple[str, ...]
    link: str | None = None


# ok: `changed` is complete; expired: the link is too old, start again without it;
# unavailable: Graph offers no delta here (403, 404, 501); failed: nothing is known.
DeltaOutcome = Literal["ok", "expired", "unavailable", "failed"]


@dataclass(frozen=True)
class DeltaRound:
    """What one delta query said. Only an `ok` round says anything about its groups."""

    key: str
    outcome: DeltaOutcome
    changed: frozenset[str] = frozenset()  # groups whose members changed since the link
    link: str | None = None  # where the next round starts (outcome ok)
    error: str | None = None


class MembershipFeed(Protocol):
    def rounds(self, queries: Sequence[DeltaQuery]) -> list[DeltaRound]:
        """One round per query, each read to its last page. Never raises for one query's
        failure: its round carries the outcome and the error."""
        ...


class DeltaLinks(Protocol):
    """Where each delta query's next round starts, kept so a restart or a new leader resumes."""

    def delta_links(self) -> dict[str, str]:
        """Query key -> the link its last recorded round ended with."""
        ...

    def keep_delta_link(self, key: str, group_ids: Sequence[str], link: str, now: datetime) -> None:
        """Only the leader may write: a deposed one must not move the next round past changes
        it never applied."""
        ...

    def drop_delta_links(self, keys: Iterable[str]) -> None: ...


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

    def group_owned(self, group_id: str) -> bool:
        """Whether the group is the bridge's own (bridge/ownership.py): only there may members
        it did not add be removed. Raises SinkError when the group cannot be read."""
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

    def provision_accounts(self, permission_set_arn: str, accounts: Sequence[str]) -> None:
        """Every one of `accounts` provisioned (in force there) when this returns."""
        ...


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


# A holding whose creation was sent and not yet confirmed (see `Ledger.record_intent`).
ADDING = "adding"

# How the ledger's note of a denial armed ahead of a grant's end begins (`DenialLedger`).
ARMED_NOTE = "armed: in force from "


class HeldBinding(Protocol):
    """One binding the ledger records the bridge as holding in Identity Center."""

    @property
    def state(self) -> str:
        """`held`, `adding` (its creation not yet confirmed) or `remove_failed`."""
        ...


class BlockedName(Protocol):
    """A user an incident's revoke blocked, as planning needs them."""

    @property
    def user_name(self) -> str: ...


class Ledger(Protocol):
    """The store as the core uses it: PIM's grants, the bridge's holdings, and every change,
    cycle, finding and denial recorded around them. Writes other than outcomes, cycle ends and
    denials raise `Fenced` once another replica leads."""

    def take_leadership(self, holder: str, now: datetime) -> int:
        """Bump the epoch: from now on, writes of any earlier leader are refused."""
        ...

    def start_cycle(self, kind: str, now: datetime) -> int: ...

    def finish_cycle(
        self, cycle_id: int, now: datetime, status: str, summary: dict[str, Any]
    ) -> None: ...

    def record_verdicts(self, verdicts: GrantVerdicts, now: datetime) -> None:
        """Write down what the plan decided about PIM's grants; the ledger decides nothing."""
        ...

    def live_grants(self) -> list[Grant]: ...

    def live_grants_of(self, instance_ids: Iterable[str]) -> list[Grant]:
        """The live grants of these PIM instances only."""
        ...

    def last_ends(self, bindings: Iterable[Binding]) -> Mapping[Binding, datetime | None]:
        """The latest end of any grant, live or ended, per binding (None: one had no end)."""
        ...

    def live_principals(self) -> Mapping[tuple[str, str, str], str]:
        """(PIM instance id, principal id, matched name) -> Identity Center user id."""
        ...

    def due_mappings(self, now: datetime) -> set[str]:
        """Mappings with a live grant whose end has come."""
        ...

    def next_expiries(self) -> list[datetime]:
        """Distinct end times still to act on, soonest first: one expiry job each."""
        ...

    def ends_within(self, now: datetime, until: datetime) -> Mapping[Binding, datetime]:
        """Held bindings whose access ends after `now` and by `until`, with that end."""
        ...

    def holdings(self) -> Mapping[Binding, HeldBinding]: ...

    def holding(self, binding: Binding) -> HeldBinding | None:
        """One binding's holding, None when the bridge holds nothing there."""
        ...

    def blocked(self) -> Mapping[str, BlockedName]:
        """Identity Center user id -> the block an incident's revoke recorded."""
        ...

    def record_intent(self, cycle_id: int | None, change: Change, now: datetime) -> int:
        """Before the AWS call; returns the id its outcome is recorded against."""
        ...

    def record_outcome(
        self,
        change_id: int,
        change: Change,
        now: datetime,
        error: str | None = None,
        *,
        unsettled: bool = False,
    ) -> None:
        """After the AWS call, even by a deposed leader: what it did to AWS must be known. An
        `unsettled` failed addition stays held, unconfirmed: it may exist."""
        ...

    def confirm(self, binding: Binding) -> None:
        """An unconfirmed addition that AWS now lists: held like any other."""
        ...

    def release(self, binding: Binding) -> None:
        """Forget a holding that is already gone from Identity Center."""
        ...

    def mark_interrupted(self, now: datetime) -> int:
        """Intents with no outcome were cut off by a stop: say so; returns how many."""
        ...

    def record_findings(
        self, cycle_id: int | None, found: Sequence[Finding], now: datetime
    ) -> None: ...

    def record_denials(
        self,
        at: datetime,
        permission_set_arn: str,
        users: dict[str, set[str]],
        status: str,
        done_at: datetime | None,
        detail: str | None = None,
    ) -> None:
        """One row per user denied on a permission set, sessions issued before `at`."""
        ...


@dataclass(frozen=True)
class Notice:
    """Something a person should hear about, by name: what happened (`event`, one of
    `[notify].events`), to whom, through which mapping, on what."""

    event: str
    at: datetime
    detail: str
    user: str | None = None
    mapping: str | None = None
    target: str | None = None
    # The condition it reports (a held brake, an unreadable group): told once while it lasts.
    # Empty for an event that happens once (a grant, a revocation).
    condition: str = ""


class Notifier(Protocol):
    def publish(self, notices: Sequence[Notice]) -> None:
        """Take the notices for delivery and return at once: never waits for a receiver,
        never raises."""
        ...
