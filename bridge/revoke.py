"""Closing the post-expiry session window (see docs/architecture.md).

Removing an assignment stops new AWS sessions, not ones already issued: those live until the
permission set's session duration runs out. AWS's remedy is an explicit Deny keyed on
`identitystore:userId`; the bridge adds the time condition `aws:TokenIssueTime < revocation`, so
a later activation's fresh session is not denied.

An expiry's denial is *armed* ahead of the end: written with `aws:CurrentTime` at or after the
end as a further condition, so it is inert until that second and in force from it, without a
write or a provisioning racing the end (`Revoker.arm`, driven by `Reconciler.arm`).

`merge_denials()` is pure: it rewrites an inline policy document, keeping every statement the
bridge did not write (found by Sid prefix) exactly as it was, pruning our statements once no
session they could match can still be alive, and staying under the 10,240-character limit.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bridge.errors import BridgeError, SinkError
from bridge.model import AccountAssignment, Binding, Change, GroupMembership, Target

log = logging.getLogger(__name__)

SID_PREFIX = "PimBridgeDeny"
COALESCED_SID = f"{SID_PREFIX}Coalesced"
# Identity Center counts the inline policy without white space.
POLICY_LIMIT = 10_240
VERSION = "2012-10-17"


class RemovalTimes:
    """How long removals of each kind have been taking. A denial is written while its removal
    runs, with a bound a little past the removal's expected end: every session issued through
    the access being removed falls before it. A removal that outlasts the bound is followed by
    a second denial at its real end, so the estimate costs writes when wrong, never coverage."""

    DEFAULT = timedelta(seconds=3)
    FLOOR = timedelta(seconds=1)
    # A longer bound would deny a re-activation's first sessions for longer (see Reconciler).
    CEILING = timedelta(seconds=10)

    def __init__(self, keep: int = 64, needed: int = 5) -> None:
        self._seen: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=keep))
        self._needed = needed
        self._lock = threading.Lock()

    def record(self, target: Target, took: timedelta) -> None:
        with self._lock:
            self._seen[type(target).__name__].append(took.total_seconds())

    def margin(self, target: Target) -> timedelta:
        """Half as long again as nine in ten recent removals of this kind of target took."""
        with self._lock:
            seen = sorted(self._seen[type(target).__name__])
        if len(seen) < self._needed:
            return self.DEFAULT
        p90 = seen[min(len(seen) - 1, int(0.9 * len(seen)))]
        return max(self.FLOOR, min(self.CEILING, timedelta(seconds=1.5 * p90)))


class DenialSink(Protocol):
    """The part of Identity Center that session denial needs."""

    def session_duration(self, permission_set_arn: str) -> timedelta: ...

    def get_inline_policy(self, permission_set_arn: str) -> str: ...

    def put_inline_policy(self, permission_set_arn: str, document: str) -> None: ...

    def provision(self, permission_set_arn: str, account_id: str) -> None: ...


@dataclass(frozen=True)
class Denial:
    """Deny the user's sessions issued before `revoked_at`; from `effective_at` on when given
    (an *armed* denial, written before the grant's end so that it is in force at that second),
    else at once."""

    ic_user_id: str
    revoked_at: datetime
    effective_at: datetime | None = None


@dataclass
class Merge:
    document: str
    added: list[str] = field(default_factory=list)  # user ids newly denied or moved later
    pruned: list[str] = field(default_factory=list)  # user ids whose denial is no longer needed
    coalesced: bool = False
    overflow: bool = False  # even coalesced, the denials do not fit: nothing written
    # Armed denials left out (or taken out) for want of room: denials in force come first, and
    # these users are denied when their removal runs instead.
    unarmed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.pruned or self.coalesced)


def policy_size(document: str) -> int:
    return len(re.sub(r"\s", "", document))


def _sid(user_id: str) -> str:
    return SID_PREFIX + re.sub(r"[^A-Za-z0-9]", "", user_id)


def denial_bound(when: datetime) -> datetime:
    """The `aws:TokenIssueTime` a denial at `when` is written with: whole seconds, rounded up.
    A session issued in the same second as the revocation was issued before it (no access
    exists after it), so it must be denied too; a session issued from this moment on is not."""
    when = when.astimezone(UTC)
    if when.microsecond:
        when = when.replace(microsecond=0) + timedelta(seconds=1)
    return when


def _iso(when: datetime) -> str:
    return denial_bound(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def deny_statement(
    user_ids: Sequence[str], before: datetime, sid: str, effective_at: datetime | None = None
) -> dict[str, Any]:
    users: str | list[str] = user_ids[0] if len(user_ids) == 1 else sorted(user_ids)
    condition: dict[str, Any] = {
        "StringEquals": {"identitystore:userId": users},
        "DateLessThan": {"aws:TokenIssueTime": _iso(before)},
    }
    if effective_at is not None:
        # Rounded up like the bound: never in force before the grant's end.
        condition["DateGreaterThanEquals"] = {"aws:CurrentTime": _iso(effective_at)}
    return {"Sid": sid, "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition}


def _ours(stmt: Any) -> bool:
    return isinstance(stmt, dict) and str(stmt.get("Sid", "")).startswith(SID_PREFIX)


def _denials_in(stmt: dict[str, Any]) -> list[Denial]:
    cond = stmt.get("Condition", {})
    users = cond.get("StringEquals", {}).get("identitystore:userId", [])
    before = _parse_iso(cond.get("DateLessThan", {}).get("aws:TokenIssueTime"))
    start = cond.get("DateGreaterThanEquals", {}).get("aws:CurrentTime")
    effective = _parse_iso(start) if start else None
    return [Denial(u, before, effective) for u in ([users] if isinstance(users, str) else users)]


def merge_denials(
    document: str,
    new: Iterable[Denial],
    now: datetime,
    session_duration: timedelta,
    limit: int = POLICY_LIMIT,
    disarm: Iterable[str] = (),
) -> Merge:
    """The inline policy with `new` denials merged in, `disarm`'s armed denials withdrawn, and
    stale ones pruned.

    A user has at most one denial in force (the latest bound wins) and one armed for a grant's
    end still to come (a newer arming replaces it: the end moved)."""
    policy: dict[str, Any] = json.loads(document) if document.strip() else {}
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    foreign = [s for s in statements if not _ours(s)]
    in_force: dict[str, datetime] = {}
    armed: dict[str, tuple[datetime, datetime]] = {}  # user -> (bound, in force from)

    def take(d: Denial) -> bool:
        if d.effective_at is not None and d.effective_at > now:
            if armed.get(d.ic_user_id) == (d.revoked_at, d.effective_at):
                return False
            armed[d.ic_user_id] = (d.revoked_at, d.effective_at)
            return True
        # An armed denial whose moment has come is simply in force.
        if d.revoked_at <= in_force.get(d.ic_user_id, datetime.min.replace(tzinfo=UTC)):
            return False
        in_force[d.ic_user_id] = d.revoked_at
        return True

    for stmt in statements:
        if _ours(stmt):
            for d in _denials_in(stmt):
                take(d)
    armed_before = dict(armed)
    out = Merge(document)
    fired: set[str] = set()
    for d in new:
        if take(d):
            out.added.append(d.ic_user_id)
            if d.effective_at is None or d.effective_at <= now:
                fired.add(d.ic_user_id)
    for user in disarm:
        if armed.pop(user, None) is not None:
            out.pruned.append(user)
    # A session issued before the revocation is dead once the session duration has passed.
    for user, at in list(in_force.items()):
        if at + session_duration <= now:
            del in_force[user]
            out.pruned.append(user)
    if not out.changed:
        return out

    def render(ours: list[dict[str, Any]]) -> str:
        body = {
            "Version": policy.get("Version", VERSION),
            **{k: v for k, v in policy.items() if k not in ("Version", "Statement")},
            "Statement": foreign + ours,
        }
        return json.dumps(body, separators=(",", ":"))

    # Soonest end first: when room runs out, the armings furthest off give way.
    waiting = sorted(armed.items(), key=lambda kv: (kv[1][1], kv[0]))

    def pending() -> list[dict[str, Any]]:
        return [
            deny_statement([u], before, _sid(u) + "Armed", start) for u, (before, start) in waiting
        ]

    ours = [deny_statement([u], at, _sid(u)) for u, at in sorted(in_force.items())]
    if policy_size(render(ours)) > limit and in_force:
        # One statement for all in force: denies a little more (sessions issued between a
        # user's own revocation and the latest one), never less. Armed denials stay apart:
        # merged, they would take effect at the earliest end.
        out.coalesced = True
        latest = max(in_force.values())
        ours = [deny_statement(sorted(in_force), latest, COALESCED_SID)]
    if policy_size(render(ours)) > limit:
        out.overflow = True
        return out
    candidate = render(ours + pending())
    while policy_size(candidate) > limit:
        out.unarmed.append(waiting.pop()[0])
        candidate = render(ours + pending())
    if out.unarmed:
        dropped = set(out.unarmed)
        out.added = [u for u in out.added if u in fired or u not in dropped]
        if not (out.changed or dropped & armed_before.keys()):
            return Merge(document, unarmed=out.unarmed)
    if not foreign and not ours and not waiting:
        candidate = ""
    out.document = candidate
    return out


@dataclass
class DenialReport:
    written: list[tuple[str, list[str]]] = field(default_factory=list)  # (ps arn, accounts)
    problems: list[str] = field(default_factory=list)
    unarmed: set[str] = field(default_factory=set)  # armings that did not fit (see Merge)


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


@dataclass
class _Pending:
    users: dict[str, set[str]]  # user -> accounts to provision
    denials: list[Denial]
    disarm: set[str] = field(default_factory=set)
    ok: bool = False
    error: BridgeError | None = None
    unarmed: set[str] = field(default_factory=set)


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


@dataclass
class InlinePolicyTarget:
    """A permission set's inline policy: effective in an account once re-provisioned there
    (Identity Center provisions one permission set per account at a time: serialised)."""

    sink: DenialSink
    name: str
    limit: int = POLICY_LIMIT

    def read(self) -> str:
        return self.sink.get_inline_policy(self.name)

    def write(self, document: str) -> None:
        self.sink.put_inline_policy(self.name, document)

    def session_duration(self) -> timedelta:
        return self.sink.session_duration(self.name)

    def enforce(self, accounts: Sequence[str]) -> None:
        for account in accounts:
            self.sink.provision(self.name, account)


class Revoker:
    """After removals, deny the removed users' older sessions wherever they held access.

    mechanism "inline": one statement per user in each permission set through which they held
    access, then re-provisioning to the affected accounts. mechanism "scp": one Service Control
    Policy holds every denial; no re-provisioning, member accounts only, 5,120 characters."""

    def __init__(
        self,
        sink: DenialSink,
        group_assignments: Callable[[str], list[AccountAssignment]] = lambda _gid: [],
        ledger: DenialLedger | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        scp: PolicyTarget | None = None,
    ) -> None:
        self.sink = sink
        # Identity Center group id -> the account/permission-set pairs assigned to that group:
        # a member who leaves the group loses those, so their sessions there are denied too.
        self.group_assignments = group_assignments
        self.ledger = ledger
        self.clock = clock
        self.scp = scp
        self._guard = threading.Lock()
        self._policy_locks: dict[str, threading.Lock] = {}
        self._pending: dict[str, list[_Pending]] = defaultdict(list)

    def _pairs(
        self, binding: Binding, groups: dict[str, list[AccountAssignment]]
    ) -> list[AccountAssignment]:
        """The account/permission-set pairs through which a binding gives access (`groups`:
        the group assignments read so far in this call, each group read once)."""
        target = binding.target
        if isinstance(target, AccountAssignment):
            return [target]
        if isinstance(target, GroupMembership):
            if target.group_id not in groups:
                groups[target.group_id] = self.group_assignments(target.group_id)
            return groups[target.group_id]
        return []

    def affected(
        self,
        bindings: Iterable[Binding],
        groups: dict[str, list[AccountAssignment]] | None = None,
    ) -> dict[str, dict[str, set[str]]]:
        """permission set ARN -> user id -> accounts where that user holds access through
        these bindings."""
        groups = {} if groups is None else groups
        out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for b in bindings:
            for a in self._pairs(b, groups):
                out[a.permission_set_arn][b.ic_user_id].add(a.account_id)
        return out

    def _targets(
        self,
        bindings: Iterable[Binding],
        groups: dict[str, list[AccountAssignment]] | None = None,
    ) -> list[tuple[PolicyTarget, dict[str, set[str]]]]:
        affected = self.affected(bindings, groups)
        if self.scp is not None:
            merged: dict[str, set[str]] = defaultdict(set)
            for users in affected.values():
                for user, accounts in users.items():
                    merged[user] |= accounts
            return [(self.scp, dict(merged))] if merged else []
        return [(InlinePolicyTarget(self.sink, ps), users) for ps, users in affected.items()]

    def deny(self, changes: Sequence[Change], at: datetime) -> DenialReport:
        """Deny, at once, the sessions the removed users got before `at`."""
        removed = {c.binding for c in changes if c.op == "remove"}
        report = DenialReport()
        for target, users in self._targets(removed):
            self._write(target, _Pending(users, [Denial(u, at) for u in users]), at, report)
        return report

    def arm(
        self, armed: Mapping[Binding, tuple[datetime, datetime]], disarmed: Iterable[Binding] = ()
    ) -> DenialReport:
        """Write denials ahead of grants' ends, each in force from its end (`armed`: binding ->
        (bound, end)), so that older sessions stop at that second without waiting for a write
        and a provisioning after it; withdraw those of `disarmed` (the grant was extended,
        ended early, or is no longer held)."""
        report = DenialReport()
        groups: dict[str, list[AccountAssignment]] = {}
        by_target: dict[str, tuple[PolicyTarget, _Pending]] = {}

        def entry_for(target: PolicyTarget, users: dict[str, set[str]]) -> _Pending:
            _, entry = by_target.setdefault(target.name, (target, _Pending({}, [])))
            for user, accounts in users.items():
                entry.users.setdefault(user, set()).update(accounts)
            return entry

        # Per policy and user, the latest of the ends: a user keeps access through a permission
        # set until the last of their bindings that gives it has ended.
        latest: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        for b, (before, end) in armed.items():
            for target, users in self._targets([b], groups):
                entry_for(target, users)
                seen = latest.get((target.name, b.ic_user_id), (before, end))
                latest[(target.name, b.ic_user_id)] = (max(before, seen[0]), max(end, seen[1]))
        for (name, user), (before, end) in latest.items():
            by_target[name][1].denials.append(Denial(user, before, end))
        for target, users in self._targets(set(disarmed) - armed.keys(), groups):
            # A user armed afresh here through another binding keeps that arming.
            entry_for(target, users).disarm.update(
                u for u in users if (target.name, u) not in latest
            )
        for target, entry in by_target.values():
            at = max((d.revoked_at for d in entry.denials), default=self.clock())
            self._write(target, entry, at, report)
        return report

    def _write(
        self, target: PolicyTarget, entry: _Pending, at: datetime, report: DenialReport
    ) -> None:
        status, detail = "provisioned", None
        try:
            if not self._deny_on(target, entry, report):
                status, detail = "overflow", report.problems[-1]
        except BridgeError as exc:
            status, detail = "failed", str(exc)
            report.problems.append(f"denial on {target.name} failed: {exc}")
            log.error("session denial on %s failed: %s", target.name, exc)
        report.unarmed |= entry.unarmed
        if self.ledger is None:
            return
        done = self.clock() if status == "provisioned" else None
        by_time: dict[tuple[datetime, datetime | None], dict[str, set[str]]] = defaultdict(dict)
        for d in entry.denials:
            if d.effective_at is not None and d.ic_user_id in entry.unarmed:
                continue
            by_time[(d.revoked_at, d.effective_at)][d.ic_user_id] = entry.users[d.ic_user_id]
        for (before, effective), users in sorted(by_time.items(), key=lambda kv: kv[0][0]):
            note = f"armed: in force from {_iso(effective)}" if effective else None
            self.ledger.record_denials(before, target.name, users, status, done, detail or note)
        if entry.disarm and status == "provisioned":
            gone = {u: entry.users[u] for u in entry.disarm}
            self.ledger.record_denials(at, target.name, gone, "disarmed", done, None)

    def prune(self, permission_sets: Iterable[str], now: datetime) -> DenialReport:
        """Drop statements no live session can match any more (keeps the policy small)."""
        report = DenialReport()
        targets: list[PolicyTarget] = (
            [self.scp]
            if self.scp is not None
            else [InlinePolicyTarget(self.sink, ps) for ps in permission_sets]
        )
        for target in targets:
            try:
                self._deny_on(target, _Pending({}, []), report, now)
            except BridgeError as exc:
                report.problems.append(f"pruning {target.name} failed: {exc}")
        return report

    def _deny_on(
        self,
        target: PolicyTarget,
        mine: _Pending,
        report: DenialReport,
        now: datetime | None = None,
    ) -> bool:
        """False when the policy is full and nothing could be written."""
        # Read-merge-write of one policy: concurrent expiry cycles must not lose each other's
        # statements.
        with self._guard:
            lock = self._policy_locks.setdefault(target.name, threading.Lock())
            self._pending[target.name].append(mine)
        with lock:
            # Whoever holds the lock writes every denial queued meanwhile, in one write and
            # one provisioning per account: a burst of expiries costs a few writes, not one
            # each. A caller whose denial another wrote gets that write's outcome.
            with self._guard:
                batch = self._pending.pop(target.name, [])
            if batch:
                merged: dict[str, set[str]] = defaultdict(set)
                denials: list[Denial] = []
                disarm: set[str] = set()
                for entry in batch:
                    for user, accounts in entry.users.items():
                        merged[user] |= accounts
                    denials.extend(entry.denials)
                    disarm |= entry.disarm
                try:
                    ok, unarmed = self._merge_into(target, merged, denials, disarm, report, now)
                except BridgeError as exc:
                    for entry in batch:
                        entry.error = exc
                else:
                    for entry in batch:
                        entry.ok = ok
                        entry.unarmed = {d.ic_user_id for d in entry.denials} & unarmed
        if mine.error is not None:
            raise mine.error
        if not mine.ok and not report.problems:
            report.problems.append(f"policy {target.name} is full: denial not written")
        return mine.ok

    def _merge_into(
        self,
        target: PolicyTarget,
        users: dict[str, set[str]],
        denials: list[Denial],
        disarm: set[str],
        report: DenialReport,
        now: datetime | None = None,
    ) -> tuple[bool, set[str]]:
        duration = target.session_duration()
        now = now or self.clock()
        try:
            merged = merge_denials(
                target.read(), denials, now, duration, target.limit, disarm=disarm
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SinkError(
                f"policy {target.name} is not valid JSON: {exc}", temporary=False
            ) from None
        if merged.overflow:
            report.problems.append(
                f"policy {target.name} is full: {len(users)} denial(s) not written"
            )
            log.error("policy %s is full: session denial NOT written", target.name)
            return False, set()
        if merged.unarmed:
            log.info(
                "policy %s: %d denial(s) not armed for want of room; denied at removal instead",
                target.name,
                len(merged.unarmed),
            )
        if not merged.changed:
            return True, set(merged.unarmed)
        if merged.coalesced:
            log.warning("policy %s near its limit: denials coalesced", target.name)
        target.write(merged.document)
        accounts = sorted({a for accts in users.values() for a in accts})
        target.enforce(accounts)
        report.written.append((target.name, accounts))
        return True, set(merged.unarmed)
