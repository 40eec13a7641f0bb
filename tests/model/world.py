"""The world the bridge works in, in memory and on one virtual clock: PIM for Groups as Graph
lists it, Identity Center, and the machine's wall clock. The model test drives it and reads it
back as the truth the bridge is judged against.

Each bridge process gets its own views of the world (`GraphView`, `IdentityCenterView`), so a
process that dies mid-call stops touching the world at once while the world itself lives on
for the next process. Every add and remove is recorded as an `Op`, whoever made it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

from bridge.errors import SinkError
from bridge.model import AccountAssignment, Binding, GroupMembership, Target
from bridge.ports import GroupRead, PimInstance
from tests.fakes import FakeClock

# Users with an Identity Center account, by the userPrincipalName Entra knows them by. A fourth
# Entra user, dave@x, has none: the bridge must report and skip him.
IC_USERS = {"alice@x": "u-alice", "bob@x": "u-bob", "carol@x": "u-carol"}
ENTRA_USERS = (*IC_USERS, "dave@x")
GROUP_NAMES = {"gid-admins": "Admins", "gid-ops": "Ops"}  # Identity Center group id -> name
PERMISSION_SETS = {
    "AdminAccess": "arn:aws:sso:::permissionSet/ssoins-1/ps-admin",
    "ReadOnly": "arn:aws:sso:::permissionSet/ssoins-1/ps-read",
}
ACCOUNTS = ("111111111111", "222222222222")
# What each Identity Center group is assigned: a member who leaves it loses these sessions.
GROUP_ASSIGNMENTS = {"gid-admins": ((ACCOUNTS[0], "AdminAccess"),), "gid-ops": ()}

# Slow asynchronous requests take this long on the virtual clock.
SLOW_CALL = timedelta(seconds=2)

GraphFault = Literal["HTTP 429", "HTTP 503", "malformed", "stale_ends"]
IcFault = Literal[
    "throttled", "conflict", "failed", "slow", "timed_out_applied", "killed_before", "killed_after"
]


class ProcessKilled(BaseException):
    """The bridge process died here. A BaseException, like SystemExit: nothing in the bridge
    may catch it, as nothing in a process survives a SIGKILL."""


def all_targets() -> tuple[Target, ...]:
    groups = tuple(GroupMembership(g) for g in GROUP_NAMES)
    assignments = tuple(
        AccountAssignment(a, arn) for a in ACCOUNTS for arn in PERMISSION_SETS.values()
    )
    return (*groups, *assignments)


@dataclass
class Instance:
    """A PIM assignment schedule instance, on the world's own (true) time."""

    id: str
    group: str
    upn: str
    start: datetime
    end: datetime | None
    typed: bool = True  # False: Graph gave no @odata.type for the principal (truly a group)
    deactivated: bool = False

    def listed_at(self, now: datetime) -> bool:
        """Graph lists an instance from its start until its end or deactivation."""
        if self.deactivated or self.start > now:
            return False
        return self.end is None or now < self.end

    def is_basis(self) -> bool:
        """Could justify a user's access: an activation of a user, with an end."""
        return self.typed and self.end is not None and self.upn in IC_USERS


@dataclass(frozen=True)
class Op:
    """One add or remove as Identity Center saw it."""

    seq: int
    op: Literal["add", "remove"]
    binding: Binding
    by: Literal["bridge", "out-of-band"]
    at: datetime  # the machine's clock when the call began
    applied: bool  # Identity Center's state changed
    outcome: Literal["ok", "error", "killed"]
    owner_before: str | None  # who made the binding, when it was there
    # The bridge made this same change last, it took effect, and nothing touched the binding
    # since: the call is a change applied twice.
    redundant: bool = False


@dataclass
class Life:
    """One process's hold on the world: gone for all its views at once when it is killed."""

    dead: bool = False

    def check(self) -> None:
        if self.dead:
            raise ProcessKilled("the process is dead")


@dataclass
class World:
    clock: FakeClock
    # The machine's clock minus the world's time: a wall-clock jump moves only the machine's.
    skew: timedelta = timedelta(0)
    jumps: list[tuple[datetime, datetime]] = field(default_factory=list)  # forward: from, to
    # When the running process started: one that was down could act on nothing before.
    started_at: datetime | None = None
    instances: list[Instance] = field(default_factory=list)
    graph_faults: dict[str, GraphFault] = field(default_factory=dict)
    ic_faults: list[IcFault] = field(default_factory=list)  # taken by the next add or remove
    group_names: dict[str, str] = field(default_factory=lambda: dict(GROUP_NAMES))
    present: dict[Binding, str] = field(default_factory=dict)  # binding -> who made it
    ops: list[Op] = field(default_factory=list)
    policies: dict[str, str] = field(default_factory=dict)
    _last_by_bridge: dict[Binding, tuple[str, str]] = field(default_factory=dict)
    _touched_since: set[Binding] = field(default_factory=set)  # out of band, since the bridge
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- time ------------------------------------------------------------------------------

    def true_now(self) -> datetime:
        return self.clock.now() - self.skew

    def jump(self, by: timedelta) -> None:
        """The machine's wall clock jumps (a VM resumed, NTP stepped it); the world's does not."""
        before = self.clock.now()
        self.clock.jump(by.total_seconds())
        self.skew += by
        if by > timedelta(0):
            self.jumps.append((before, before + by))

    def first_chance(self, end: datetime) -> datetime:
        """When the machine's clock first let the bridge act on `end`: the end itself, or the
        landing of the last forward jump over it (the bridge had no time in between)."""
        over = [to for before, to in self.jumps if before < end <= to]
        return over[-1] if over else end

    def sleep(self, seconds: float) -> None:
        """The bridge waiting (for a denial's bound) passes virtual time, not real time."""
        self.clock.advance(seconds)

    # -- PIM -------------------------------------------------------------------------------

    def instance(self, instance_id: str) -> Instance | None:
        return next((i for i in self.instances if i.id == instance_id), None)

    def listed(self, group: str) -> list[Instance]:
        now = self.true_now()
        return [i for i in self.instances if i.group == group and i.listed_at(now)]

    # -- Identity Center -------------------------------------------------------------------

    def apply(
        self,
        op: Literal["add", "remove"],
        b: Binding,
        by: Literal["bridge", "out-of-band"],
        outcome: Literal["ok", "error", "killed"] = "ok",
        *,
        effective: bool = True,
        at: datetime | None = None,
    ) -> Op:
        """Record a call and, when `effective`, make it take effect."""
        with self.lock:
            owner = self.present.get(b)
            last = self._last_by_bridge.get(b)
            untouched = b not in self._touched_since
            redundant = (
                by == "bridge"
                and untouched
                and last == (op, "ok")
                and ((op == "add" and owner == "bridge") or (op == "remove" and owner is None))
            )
            applied = False
            if effective:
                if op == "add" and (owner is None or by == "bridge"):
                    # A bridge add of what someone else made adopts it: Identity Center has one
                    # membership, and from now on the bridge's grant is what keeps it.
                    applied = owner is None
                    self.present[b] = by
                elif op == "remove" and owner is not None:
                    applied = True
                    del self.present[b]
            elif op == "add" and by == "bridge" and outcome == "killed" and owner is not None:
                # Cut off before the call, on what someone else made: the bridge may take it as
                # its own from here (Identity Center cannot tell it a call cut off before from
                # one cut off after), as it would have adopted it had the call been made.
                self.present[b] = "bridge"
            record = Op(
                len(self.ops),
                op,
                b,
                by,
                at or self.clock.now(),
                applied,
                outcome,
                owner,
                redundant,
            )
            self.ops.append(record)
            if by == "bridge":
                self._last_by_bridge[b] = (op, outcome)
                self._touched_since.discard(b)
            else:
                self._touched_since.add(b)
            return record

    def take_fault(self) -> IcFault | None:
        with self.lock:
            return self.ic_faults.pop(0) if self.ic_faults else None

    def holders(self, key: str) -> set[str]:
        with self.lock:
            return {b.ic_user_id for b in self.present if b.target_key == key}

    def resolve_group(self, name_or_id: str) -> str | None:
        if name_or_id in self.group_names:
            return name_or_id
        return next((g for g, n in self.group_names.items() if n == name_or_id), None)


class GraphView:
    """A `PimSource` over the world, as one process sees it."""

    def __init__(self, world: World, life: Life) -> None:
        self.world, self.life = world, life

    def read_groups(
        self, group_ids: Sequence[str], *, deadline: float | None = None
    ) -> dict[str, GroupRead]:
        self.life.check()
        return {g: self._read(g) for g in group_ids}

    def _read(self, group: str) -> GroupRead:
        w = self.world
        fault = w.graph_faults.get(group)
        if fault in ("HTTP 429", "HTTP 503"):
            return GroupRead(group, error=f"{fault} after retries")
        items = [_pim_instance(i) for i in sorted(w.listed(group), key=lambda i: i.id)]
        skipped: tuple[str, ...] = ()
        if fault == "malformed" and items:
            skipped = (f"item {items[0].id}: endDateTime is not a date",)
            items = items[1:]
        if fault == "stale_ends":
            # A bad page: every end reported as the start, so each grant looks already over.
            items = [replace(i, end=i.start) for i in items]
        return GroupRead(group, tuple(items), skipped=skipped)


def _pim_instance(i: Instance) -> PimInstance:
    return PimInstance(
        id=i.id,
        group_id=i.group,
        principal_id=f"p-{i.upn}" if i.typed else f"g-{i.upn}",
        principal_type="user" if i.typed else "unknown",
        access_id="member",
        assignment_type="activated",
        member_type="direct",
        start=i.start,
        end=i.end,
        principal={"userPrincipalName": i.upn},
    )


class IdentityCenterView:
    """The `IdentityCenter` port and the `DenialSink` over the world, for one process. Injected
    faults are taken by the next add or remove, in the order they were queued."""

    def __init__(self, world: World, life: Life) -> None:
        self.world, self.life = world, life

    def find_user_id(self, attribute: str, value: str) -> str | None:
        self.life.check()
        return IC_USERS.get(value)

    def resolve_group(self, name_or_id: str) -> str:
        self.life.check()
        gid = self.world.resolve_group(name_or_id)
        if gid is None:
            raise SinkError(f"no Identity Center group named {name_or_id!r}", temporary=False)
        return gid

    def group_owned(self, group_id: str) -> bool:
        self.life.check()
        return True  # the world's groups are the bridge's own

    def resolve_permission_set(self, name_or_arn: str) -> str:
        self.life.check()
        if name_or_arn in PERMISSION_SETS.values():
            return name_or_arn
        if name_or_arn not in PERMISSION_SETS:
            raise SinkError(f"no permission set named {name_or_arn!r}", temporary=False)
        return PERMISSION_SETS[name_or_arn]

    def holders(self, target: Target) -> set[str]:
        self.life.check()
        return self.world.holders(target.key)

    def add(self, user_id: str, target: Target) -> None:
        self._write("add", Binding(user_id, target))

    def remove(self, user_id: str, target: Target) -> None:
        self._write("remove", Binding(user_id, target))

    def _write(self, op: Literal["add", "remove"], b: Binding) -> None:
        w = self.world
        with w.lock:
            if self.life.dead:
                # Another of the process's threads got this far after the kill: its intent may
                # be in the ledger, so to the next process it is a call cut off, like the one
                # the kill took (and removing what it may have made is no second removal).
                w.apply(op, b, "bridge", "killed", effective=False, at=w.clock.now())
            self.life.check()
            at = w.clock.now()
            fault = w.take_fault()
            if fault == "killed_before":
                self._die(op, b, effective=False, at=at)
            if fault in ("throttled", "conflict", "failed"):
                w.apply(op, b, "bridge", "error", effective=False, at=at)
                raise _error(fault)
            if fault == "slow":
                w.clock.advance(SLOW_CALL.total_seconds())
            if fault == "killed_after":
                self._die(op, b, effective=True, at=at)
            if fault == "timed_out_applied":
                # Still IN_PROGRESS when the adapter gave up; AWS finished it anyway.
                w.apply(op, b, "bridge", "error", at=at)
                raise SinkError(
                    "request still IN_PROGRESS after 60s", temporary=True, unsettled=True
                )
            w.apply(op, b, "bridge", at=at)

    def _die(
        self, op: Literal["add", "remove"], b: Binding, *, effective: bool, at: datetime
    ) -> None:
        self.world.apply(op, b, "bridge", "killed", effective=effective, at=at)
        self.life.dead = True
        raise ProcessKilled(f"killed {'after' if effective else 'before'} {op} {b}")

    # -- DenialSink, and the group assignments the Revoker asks for ---------------------------

    def group_assignments(self, group_id: str) -> list[AccountAssignment]:
        return [
            AccountAssignment(a, PERMISSION_SETS[ps])
            for a, ps in GROUP_ASSIGNMENTS.get(group_id, ())
        ]

    def session_duration(self, permission_set_arn: str) -> timedelta:
        return timedelta(hours=1)

    def get_inline_policy(self, permission_set_arn: str) -> str:
        self._alive_for_denials()
        return self.world.policies.get(permission_set_arn, "")

    def put_inline_policy(self, permission_set_arn: str, document: str) -> None:
        self._alive_for_denials()
        with self.world.lock:
            self.world.policies[permission_set_arn] = document

    def provision(self, permission_set_arn: str, account_id: str) -> None:
        self._alive_for_denials()

    def provision_accounts(self, permission_set_arn: str, accounts: Sequence[str]) -> None:
        for account in accounts:
            self.provision(permission_set_arn, account)

    def _alive_for_denials(self) -> None:
        # Denials run on their own thread beside a removal; a dead process's thread fails the
        # way a write to a closed connection would, without a traceback on the console.
        if self.life.dead:
            raise SinkError("the process is dead", temporary=True)


def _error(fault: IcFault) -> SinkError:
    if fault == "throttled":
        return SinkError("ThrottlingException: Rate exceeded", temporary=True)
    if fault == "conflict":
        return SinkError(
            "ConflictException: another request is in progress for this target", temporary=True
        )
    return SinkError("request FAILED: no reason given", temporary=False)
