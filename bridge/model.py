"""The vocabulary: plain frozen data. Adapters translate Graph and boto3 shapes into these at
the edge; nothing past the edge sees a Graph or boto3 shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache, total_ordering
from typing import Literal, overload


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """The moment in UTC. A naive value is taken as UTC already: SQLite hands stored datetimes
    back naive, Graph means UTC without an offset, and an HTTP-date is always GMT."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, order=True, slots=True)
class GroupMembership:
    """Membership of an Identity Center group."""

    group_id: str
    # Made once: every poll asks tens of thousands of grants and holdings for their target's.
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"group:{self.group_id}")

    def __str__(self) -> str:
        return f"group {self.group_id}"


@dataclass(frozen=True, order=True, slots=True)
class AccountAssignment:
    """A USER assignment of a permission set on an AWS account."""

    account_id: str
    permission_set_arn: str
    key: str = field(init=False, repr=False, compare=False)  # made once, as a group's

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"assignment:{self.account_id}:{self.permission_set_arn}")

    def __str__(self) -> str:
        return f"{self.permission_set_arn.rsplit('/', 1)[-1]} on {self.account_id}"


Target = GroupMembership | AccountAssignment


@lru_cache(maxsize=1 << 16)
def target_from_key(key: str) -> Target:
    """The target a key names. Tens of thousands of grants and holdings share a few thousand
    targets: each key is parsed once, and its bindings share one (immutable) target."""
    kind, _, rest = key.partition(":")
    if kind == "group":
        return GroupMembership(rest)
    if kind == "assignment":
        account, _, arn = rest.partition(":")
        return AccountAssignment(account, arn)
    raise ValueError(f"not a target key: {key!r}")


def target_name(target: Target | str, labels: Mapping[str, str] | None = None) -> str:
    """What a person reads for a target (or its key): the name the mappings gave it (`labels`,
    target key -> Identity Center group display name, or permission set @ account), else what
    its ids say. The one place this is decided: the plan printout, the log and the findings."""
    key = target if isinstance(target, str) else target.key
    named = (labels or {}).get(key)
    if named:
        return named
    return str(target_from_key(target) if isinstance(target, str) else target)


@dataclass(frozen=True, slots=True)
class User:
    """An Entra principal resolved to an Identity Center user."""

    principal_id: str  # Entra object id
    name: str  # the matched attribute's value, e.g. the UPN
    ic_user_id: str


@dataclass(frozen=True, slots=True)
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
    ticket_system: str | None = None

    def live_at(self, now: datetime) -> bool:
        return self.not_before <= now and self.unended_at(now)

    def unended_at(self, now: datetime) -> bool:
        """Whatever its start: for access already given, a start ahead of `now` says this
        clock is behind Microsoft's (set back, or a restart's wall clock after a jump back);
        going by it would remove live access and give it back when the clock caught up."""
        return self.not_after is None or now < self.not_after


# What PIM's requests say about a grant, for the audit trail: kept with it, updated when a later
# request (an extension) adds to it.
AUDIT_DETAILS = ("justification", "ticket", "ticket_system", "approver")


class Reason(StrEnum):
    ACTIVATED = "activated"
    EXTENDED = "extended"  # a grant's end moved later: a ledger record, no AWS write
    EXPIRED = "expired"
    DEACTIVATED = "deactivated"
    ORPHANED = "orphaned"  # the mapping that made the grant no longer names it
    DRIFT = "drift"
    REVOKED = "revoked"  # ended by a person during an incident (`pim-bridge revoke`)


@total_ordering
@dataclass(frozen=True, slots=True)
class Binding:
    """A user holding a target: what exists (or should) in Identity Center."""

    ic_user_id: str
    target: Target

    @classmethod
    def of(cls, ic_user_id: str, target_key: str) -> Binding:
        """From the key a store or a log wrote."""
        return cls(ic_user_id, target_from_key(target_key))

    @property
    def target_key(self) -> str:
        return self.target.key

    def __lt__(self, other: Binding) -> bool:
        # By key: targets of different kinds do not compare with each other.
        return (self.ic_user_id, self.target.key) < (other.ic_user_id, other.target.key)


@dataclass(frozen=True)
class Change:
    op: Literal["add", "remove"]
    binding: Binding
    reason: Reason
    mapping: str | None = None
    user_name: str | None = None
    not_after: datetime | None = None

    def __str__(self) -> str:
        return self.render()

    @property
    def user(self) -> str:
        """The user's name where known, else their Identity Center user id."""
        return self.user_name or self.binding.ic_user_id

    def render(self, labels: Mapping[str, str] | None = None, *, full: bool = False) -> str:
        """`+ user -> target  (reason)`, the target by its configured name where `labels` has
        it; `full` adds the grant's end and the mapping, as `sync` prints them."""
        sign = "+" if self.op == "add" else "-"
        who = self.user
        what = target_name(self.binding.target, labels)
        if not full:
            return f"{sign} {who} -> {what}  ({self.reason})"
        until = f", until {self.not_after:%Y-%m-%d %H:%M:%SZ}" if self.not_after else ""
        via = f" [{self.mapping}]" if self.mapping else ""
        return f"{sign} {who} -> {what}  ({self.reason}{until}){via}"


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
        "orphan",
        "unresolved_mapping",
        "clock_jump",
        "held_removal",
        "duplicate_instance",
        "blocked",
    ]
    detail: str
    mapping: str | None = None
    # Who and what it is about, where it is about one user's access (a drift finding): the
    # user's name and Identity Center id, and the target's name.
    user: str | None = None
    user_id: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class Scope:
    """What the bridge may touch and how this cycle: the mapping config, resolved to target
    keys."""

    managed: frozenset[str]  # every target key named by a mapping
    drift_remove: frozenset[str]  # targets where every mapping naming them says drift = remove
    # Groups where the mappings say drift = remove but the group is not bridge-owned
    # (bridge/ownership.py): members the bridge did not add are kept there, and named.
    not_owned: frozenset[str] = frozenset()
    # Mappings whose PIM state is unknown this cycle (unreadable, partly read, unresolved):
    # their grants are carried from the ledger until their own ends.
    unreadable: frozenset[str] = frozenset()
    targets_of: Mapping[str, frozenset[str]] = field(default_factory=dict)  # mapping -> keys
    max_removals: int = 50
    # Configured mapping names (None: those of targets_of and unreadable). A ledger grant of
    # another mapping, or of a target its mapping no longer names, is an orphan.
    mappings: frozenset[str] | None = None
    # Mappings that mirror permanent ('assigned') instances (None: every mapping).
    permanent_ok: frozenset[str] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)  # target key -> configured name
    # Ends after this moment came due only through a wall-clock jump: their removals are
    # judged by the safety brake like any removal PIM did not schedule (None: no jump).
    judge_after: datetime | None = None
    # PIM instance id -> PIM's own time of the request that ended it early (GroupRead.ended).
    pim_ends: Mapping[str, datetime] = field(default_factory=dict)

    def configured(self, mapping: str) -> bool:
        if self.mappings is not None:
            return mapping in self.mappings
        return mapping in self.targets_of or mapping in self.unreadable

    def orphaned(self, grant: Grant) -> bool:
        """The grant's mapping no longer names its target (removed, renamed, edited)."""
        if not self.configured(grant.mapping):
            return True
        if grant.mapping in self.unreadable:
            return False
        return grant.target.key not in self.targets_of.get(grant.mapping, frozenset())

    def permanent_allowed(self, mapping: str) -> bool:
        return self.permanent_ok is None or mapping in self.permanent_ok

    def label(self, key: str) -> str:
        return target_name(key, self.labels)


@dataclass(frozen=True)
class Ended:
    """A ledger grant PIM no longer backs, and why (expired, deactivated or orphaned)."""

    grant: Grant
    reason: Reason
    at: datetime
    # PIM's own time of the request that ended it early, when Graph listed one.
    requested_at: datetime | None = None


@dataclass(frozen=True)
class Moved:
    """A grant PIM still lists with another end (or new audit details) than the ledger holds."""

    grant: Grant
    previous_end: datetime | None

    @property
    def extended(self) -> bool:
        end, before = self.grant.not_after, self.previous_end
        return before is not None and (end is None or end > before)


@dataclass(frozen=True)
class GrantVerdicts:
    """What the ledger is to record about PIM's grants after one read: the plan decides, the
    ledger only writes it down."""

    new: tuple[Grant, ...] = ()
    moved: tuple[Moved, ...] = ()
    seen: tuple[Grant, ...] = ()  # listed again unchanged
    ended: tuple[Ended, ...] = ()

    @property
    def extended(self) -> tuple[Grant, ...]:
        return tuple(m.grant for m in self.moved if m.extended)


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...] = ()
    findings: tuple[Finding, ...] = ()
    # Removals the safety brake held back: decided, visible, not applied this cycle.
    held: tuple[Change, ...] = ()
    # Holdings already gone from Identity Center (removed out of band): forget them.
    releases: tuple[Binding, ...] = ()
    grants: GrantVerdicts = field(default_factory=GrantVerdicts)
    # The earliest recorded end among held expiries: one the brake judged only because the wall
    # clock jumped past it, and which stops being judged once monotonic time reaches it.
    held_end: datetime | None = None

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
