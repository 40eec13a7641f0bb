"""Writes session denials where they take effect: one statement per user in each permission
set's inline policy (then re-provisioned to the affected accounts), or one Service Control
Policy holding them all. Read-merge-write of one policy is serialised, and denials queued
meanwhile share one write."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.denial.batching import DenialReport, Pending, PolicyWrites
from bridge.denial.policy import (
    POLICY_LIMIT,
    Denial,
    iso_bound,
)
from bridge.errors import BridgeError
from bridge.model import AccountAssignment, Binding, Change, GroupMembership
from bridge.ports import (
    ARMED_NOTE,
    Clock,
    DenialLedger,
    DenialSink,
    PolicyTarget,
    SystemClock,
)

__all__ = ["DenialReport", "InlinePolicyTarget", "Placements", "Revoker"]

log = logging.getLogger(__name__)

# How many policies are written at once: a burst of ends across many permission sets arms
# within the lead (`bridge.revoke.ARM_LEAD`) rather than one permission set after another.
# The instance's 20 calls/s, shared by every thread, bounds the rest.
WRITERS = 8


def armed_from(detail: str | None) -> datetime | None:
    """The second an armed denial takes effect, from its ledger note; None for any other."""
    if not detail or not detail.startswith(ARMED_NOTE):
        return None
    return datetime.fromisoformat(detail.removeprefix(ARMED_NOTE).replace("Z", "+00:00"))


# Where denials of some users go: policy name (a permission set ARN, or "scp:<id>") -> user id
# -> the accounts to provision.
Placements = Mapping[str, Mapping[str, set[str]]]


@dataclass
class InlinePolicyTarget:
    """A permission set's inline policy: effective in an account once re-provisioned there
    (the sink provisions the accounts side by side, one permission set per account at a time)."""

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
        if accounts:
            self.sink.provision_accounts(self.name, accounts)


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
        self._writes = PolicyWrites(self.clock)

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
        return self._write_all(
            [
                (target, Pending(users, [Denial(u, at) for u in users]), at)
                for target, users in self._targets(removed)
            ]
        )

    def placements(self, bindings: Iterable[Binding]) -> Placements:
        """Where denials of these bindings' users go: policy name -> user -> accounts."""
        return {target.name: users for target, users in self._targets(bindings)}

    def block(self, placements: Placements, at: datetime) -> DenialReport:
        """Deny every session of these users, whenever issued, where `placements` says (an
        incident's revoke): in force once this returns."""
        return self._write_all(
            [
                (self._target_named(name), Pending(dict(users), [], block=set(users)), at)
                for name, users in placements.items()
            ]
        )

    def unblock(self, placements: Placements, at: datetime) -> DenialReport:
        """Lift the blocks written with `placements`; the sessions issued before `at` stay
        denied (ordinary denials, pruned once no such session can be alive)."""
        return self._write_all(
            [
                (
                    self._target_named(name),
                    Pending(dict(users), [Denial(u, at) for u in users], unblock=set(users)),
                    at,
                )
                for name, users in placements.items()
            ]
        )

    def _target_named(self, name: str) -> PolicyTarget:
        if self.scp is not None and name == self.scp.name:
            return self.scp
        return InlinePolicyTarget(self.sink, name)

    def arm(
        self, armed: Mapping[Binding, tuple[datetime, datetime]], disarmed: Iterable[Binding] = ()
    ) -> DenialReport:
        """Write denials ahead of grants' ends, each in force from its end (`armed`: binding ->
        (bound, end)), so that older sessions stop at that second without waiting for a write
        and a provisioning after it; withdraw those of `disarmed` (the grant was extended,
        ended early, or is no longer held)."""
        groups: dict[str, list[AccountAssignment]] = {}
        by_target: dict[str, tuple[PolicyTarget, Pending]] = {}

        def entry_for(target: PolicyTarget, users: dict[str, set[str]]) -> Pending:
            _, entry = by_target.setdefault(target.name, (target, Pending({}, [])))
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
        return self._write_all(
            [
                (
                    target,
                    entry,
                    max((d.revoked_at for d in entry.denials), default=self.clock.now()),
                )
                for target, entry in by_target.values()
            ]
        )

    def _write_all(self, work: Sequence[tuple[PolicyTarget, Pending, datetime]]) -> DenialReport:
        """Each policy's write beside the others', up to WRITERS at once: a write waits mostly
        on Identity Center (the read, the write, the provisioning), and one policy's write
        does not wait on another's (accounts are provisioned one permission set at a time:
        `InlinePolicyTarget.enforce`). The report lists them in the order given."""
        reports = [DenialReport() for _ in work]

        def one(k: int) -> None:
            target, entry, at = work[k]
            self._write(target, entry, at, reports[k])

        if len(work) <= 1:
            for k in range(len(work)):
                one(k)
        else:
            with ThreadPoolExecutor(min(WRITERS, len(work)), "denial-write") as pool:
                list(pool.map(one, range(len(work))))
        merged = DenialReport()
        for report in reports:
            merged.written.extend(report.written)
            merged.problems.extend(report.problems)
            merged.unarmed |= report.unarmed
        return merged

    def _write(
        self, target: PolicyTarget, entry: Pending, at: datetime, report: DenialReport
    ) -> None:
        status, detail = "provisioned", None
        try:
            if not self._writes.write(target, entry, report):
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
        if entry.block:
            blocked = {u: entry.users[u] for u in entry.block}
            note = detail or "blocked: every session, whenever issued"
            self.ledger.record_denials(at, target.name, blocked, status, done, note)
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
                self._writes.write(target, Pending({}, []), report, now)
            except BridgeError as exc:
                report.problems.append(f"pruning {target.name} failed: {exc}")
        return report
