"""Writes session denials where they take effect: one statement per user in each permission
set's inline policy (then re-provisioned to the affected accounts), or one Service Control
Policy holding them all. Read-merge-write of one policy is serialised, and denials queued
meanwhile share one write."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bridge.denial.policy import (
    POLICY_LIMIT,
    Denial,
    MalformedPolicy,
    iso_bound,
    merge_denials,
)
from bridge.errors import BridgeError, SinkError
from bridge.model import AccountAssignment, Binding, Change, GroupMembership
from bridge.ports import (
    ARMED_NOTE,
    Clock,
    DenialLedger,
    DenialSink,
    PolicyTarget,
    SystemClock,
)
from bridge.words import plural

log = logging.getLogger(__name__)


def armed_from(detail: str | None) -> datetime | None:
    """The second an armed denial takes effect, from its ledger note; None for any other."""
    if not detail or not detail.startswith(ARMED_NOTE):
        return None
    return datetime.fromisoformat(detail.removeprefix(ARMED_NOTE).replace("Z", "+00:00"))


@dataclass
class DenialReport:
    written: list[tuple[str, list[str]]] = field(default_factory=list)  # (ps arn, accounts)
    problems: list[str] = field(default_factory=list)
    unarmed: set[str] = field(default_factory=set)  # armings that did not fit (see Merge)


@dataclass
class _Pending:
    users: dict[str, set[str]]  # user -> accounts to provision
    denials: list[Denial]
    disarm: set[str] = field(default_factory=set)
    ok: bool = False
    error: BridgeError | None = None
    unarmed: set[str] = field(default_factory=set)


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
        clock: Clock | None = None,
        scp: PolicyTarget | None = None,
    ) -> None:
        self.sink = sink
        # Identity Center group id -> the account/permission-set pairs assigned to that group:
        # a member who leaves the group loses those, so their sessions there are denied too.
        self.group_assignments = group_assignments
        self.ledger = ledger
        self.clock: Clock = clock or SystemClock()
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
            at = max((d.revoked_at for d in entry.denials), default=self.clock.now())
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
        done = self.clock.now() if status == "provisioned" else None
        by_time: dict[tuple[datetime, datetime | None], dict[str, set[str]]] = defaultdict(dict)
        for d in entry.denials:
            if d.effective_at is not None and d.ic_user_id in entry.unarmed:
                continue
            by_time[(d.revoked_at, d.effective_at)][d.ic_user_id] = entry.users[d.ic_user_id]
        for (before, effective), users in sorted(by_time.items(), key=lambda kv: kv[0][0]):
            note = f"{ARMED_NOTE}{iso_bound(effective)}" if effective else None
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
        now = now or self.clock.now()
        try:
            merged = merge_denials(
                target.read(), denials, now, duration, target.limit, disarm=disarm
            )
        except MalformedPolicy as exc:
            # Left exactly as it is: a rewrite would damage someone else's statements.
            raise SinkError(
                f"policy {target.name} is not a policy document the bridge can rewrite "
                f"safely ({exc}): denial not written, the policy left as it is",
                temporary=False,
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise SinkError(
                f"policy {target.name} is not valid JSON: {exc}", temporary=False
            ) from None
        if merged.overflow:
            report.problems.append(
                f"policy {target.name} is full: {plural(len(users), 'denial')} not written"
            )
            log.error("policy %s is full: session denial NOT written", target.name)
            return False, set()
        if merged.unarmed:
            log.info(
                "policy %s: %s not armed for want of room; denied at removal instead",
                target.name,
                plural(len(merged.unarmed), "denial"),
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
