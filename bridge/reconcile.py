"""The cycle: observe (`bridge.desired`), read what exists (`bridge.view.read_actual`), decide
(`bridge.plan`), record the verdicts and apply the changes idempotently, writing intent before
and outcome after every AWS call; removals go through session denial (`bridge.revoke`).

Level-triggered, like a Kubernetes controller: every cycle recomputes desired state from the
world, so a missed poll or a crash costs time, never correctness.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime

from bridge import cycle_log
from bridge.clockwatch import ClockWatch
from bridge.config import Config
from bridge.desired import Desired, Observation
from bridge.model import (
    Binding,
    Change,
    Finding,
    Grant,
    GrantVerdicts,
    GroupMembership,
    Plan,
    Scope,
    Target,
)
from bridge.plan import orphan_finding, plan
from bridge.ports import Clock, IdentityCenter, Ledger, PimSource
from bridge.recorded import RecordedCalls, UserNames, named, read_holders
from bridge.revoke import SessionDenial
from bridge.view import ViewedLedger, Within, named_removals, read_actual

# How long an expiry job waits for Graph to confirm the ends it is about to revoke.
CONFIRM_DEADLINE = 1.0


def _read_aws(
    identity_center: IdentityCenter, scope: Scope, labels: Mapping[str, str]
) -> tuple[Scope, dict[str, frozenset[str]], list[Finding]]:
    """What AWS holds on the managed targets, for a drift sweep. A target that could not be
    read keeps its drift to itself: no foreign removals there."""
    holders, found = read_holders(identity_center, scope.managed, labels)
    unread = scope.managed - holders.keys()
    return replace(scope, drift_remove=scope.drift_remove - unread), holders, found


def _observe_reloading(desired: Desired, view: ViewedLedger, *, refresh: bool) -> Observation:
    """A full poll's reads: PIM, and the ledger again (the view starts afresh) while Graph
    answers, as the two wait on different services. Every write goes through the view, so
    whatever is written meanwhile is in it either way."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-read") as pool:
        reloaded = pool.submit(view.reload)
        if refresh:
            # The sweep that reads what AWS holds also reads the names that say where.
            desired.refresh()
        # Reads happen outside the lock: a slow or failing Graph must never hold up an expiry.
        obs = desired.observe()
        reloaded.result()
    return obs


# -- the cycle -------------------------------------------------------------------------------


@dataclass
class CycleResult:
    kind: str
    plan: Plan
    applied: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)
    # Mappings whose PIM state this cycle read in full (a scoped cycle: only those it asked for).
    read: set[str] = field(default_factory=set)
    dry_run: bool = False
    deferred: list[Change] = field(default_factory=list)  # another cycle was applying them
    unplaced: list[str] = field(default_factory=list)  # session denials that were not written
    # When a held expiry stops being judged by the brake (the wall clock had jumped past its
    # end): the moment to look again, rather than the next poll.
    recheck_at: datetime | None = None
    read_groups: int = 0  # Entra groups Graph answered for: 0 when this cycle read no PIM state
    seconds: float = 0.0  # how long the cycle took
    cycle_id: int | None = None  # its row in the ledger (None: a dry run)

    @property
    def grant_sync(self) -> GrantVerdicts:
        return self.plan.grants

    @property
    def held(self) -> tuple[Change, ...]:
        return self.plan.held

    @property
    def status(self) -> str:
        if self.dry_run:
            return "dry-run"
        return "partial" if self.exit_code else "ok"

    @property
    def exit_code(self) -> int:
        """1 while anything decided is not done: a failed change, a removal held back or
        withheld (an unreadable or unresolved mapping), a denial that found no room."""
        return 1 if self.failed or self.unreadable or self.held or self.unplaced else 0

    def summary(self) -> dict[str, object]:
        return {
            "adds": len(self.plan.adds),
            "removes": len(self.plan.removes),
            "applied": len(self.applied),
            "failed": len(self.failed),
            "held": len(self.held),
            "unplaced": len(self.unplaced),
            "findings": len(self.findings),
            "unreadable": sorted(self.unreadable),
            "read_groups": self.read_groups,
        }


class Reconciler:
    """One object per process: runs cycles on demand against the ports, serialising planning."""

    def __init__(
        self,
        config: Config,
        source: PimSource,
        identity_center: IdentityCenter,
        ledger: Ledger,
        clock: Clock,
        *,
        denial: SessionDenial | None = None,
        watch: ClockWatch | None = None,
        workers: int = 10,
        user_names: UserNames | None = None,
    ) -> None:
        self.config = config
        self.identity_center = identity_center
        self.ledger = ledger
        # Every read and write of the cycles goes through the view of grants and holdings.
        self.view = ViewedLedger(ledger)
        self.clock = clock
        self.watch = watch or ClockWatch(clock)
        self.desired = Desired(
            config, source, identity_center, self.view.live_principals, workers=workers
        )
        self.denial = denial
        self.workers = workers
        self.user_names = user_names
        # Planning is serialised, and a binding being applied by one cycle is left alone by
        # the others (`_inflight`); observation and the AWS writes run outside the lock.
        self._lock = threading.Lock()
        self._inflight: set[Binding] = set()
        self._reported: dict[str, set[Finding]] = defaultdict(set)  # cycle kind -> last findings
        self._calls = RecordedCalls(identity_center, self.view, clock)

    @property
    def labels(self) -> dict[str, str]:
        return self.desired.labels

    def targets(self) -> dict[str, tuple[Target, ...]]:
        return self.desired.targets()

    def scope(self, unreadable: Iterable[str] = ()) -> Scope:
        return self.desired.scope(unreadable)

    def orphans(self) -> list[Finding]:
        """Live grants whose mapping no longer names their target, from the ledger alone."""
        scope = self.desired.scope()
        return [orphan_finding(g, scope) for g in self.view.live_grants() if scope.orphaned(g)]

    # -- cycles --------------------------------------------------------------------------

    def cycle(
        self, *, kind: str = "poll", dry_run: bool = False, read_aws: bool = False
    ) -> CycleResult:
        """Observe PIM, plan against the ledger (and AWS when `read_aws`), apply."""
        started = self.clock.monotonic()
        obs = _observe_reloading(self.desired, self.view, refresh=read_aws)
        # A partly unreadable mapping keeps its ledger grants until their own end, like an
        # unreadable one, but its cycle is not failed: the bad items are reported as findings.
        scope = replace(self.desired.scope(obs.unknown), pim_ends=obs.ended)
        findings = list(obs.findings)
        aws_holders: dict[str, frozenset[str]] = {}
        if read_aws:
            scope, aws_holders, more = _read_aws(self.identity_center, scope, self.labels)
            findings += more
        result = self._run(kind, obs.grants, scope, findings, aws_holders, obs.unreadable, dry_run)
        return self._done(result, obs, started)

    def cycle_for(self, mappings: Collection[str], *, kind: str) -> CycleResult:
        """Read and plan just `mappings` (those the membership watcher saw change, or those it
        cannot see) over their own targets (`bridge.view.Within`): every other mapping counts
        as unread. Names not resolved yet are tried first (this is not the expiry path, which
        must not wait on Identity Center lookups)."""
        self.desired.targets()
        obs = self.desired.observe(mappings)
        unread = [m.name for m in self.config.mappings if m.name not in obs.read]
        scope = self.desired.scope(unread)
        found, within = list(obs.findings), Within.of(obs.read, scope)
        result = self._run(kind, obs.grants, scope, found, {}, obs.unreadable, False, within)
        result.read = set(obs.read)
        return result

    def expire(self) -> CycleResult:
        """Revoke whatever the ledger says has ended. Graph is asked once, for the mappings whose
        grants are ending, within CONFIRM_DEADLINE: an extension made in the last seconds is
        honoured rather than revoked and given back. Whatever Graph does not answer in time is
        judged from the ledger alone, so an outage delays no revocation by more than that, and
        no Identity Center name is resolved here."""
        started = self.clock.monotonic()
        due = self.view.due_mappings(self.clock.now())
        obs = self.desired.observe(due, deadline=CONFIRM_DEADLINE) if due else Observation()
        # Every mapping not read just now counts as unread: the ledger's grants are the truth.
        unread = [m.name for m in self.config.mappings if m.name not in obs.read]
        scope = replace(self.desired.scope(unread), pim_ends=obs.ended)
        result = self._run("expiry", obs.grants, scope, [], {}, set(), False)
        return self._done(result, obs, started)

    def _run(
        self,
        kind: str,
        grants: list[Grant],
        scope: Scope,
        findings: list[Finding],
        aws_holders: dict[str, frozenset[str]],
        unreadable: set[str],
        dry_run: bool,
        within: Within | None = None,
    ) -> CycleResult:
        with self._lock:
            reading = self.watch.read()
            now = reading.now
            if reading.finding is not None:
                findings = [*findings, reading.finding]
            scope = replace(scope, judge_after=reading.judge_after)
            actual = read_actual(self.view, now, aws_holders, within)
            decided = named_removals(plan(grants, actual, scope, now), self.view, within)
            if dry_run:
                found = [*findings, *named(decided.findings, self.user_names)]
                return CycleResult(
                    kind, decided, findings=found, unreadable=unreadable, dry_run=True
                )
            cycle_id = self.view.start_cycle(kind, now)
            self.view.record_verdicts(decided.grants, now)
            decided, deferred = self._claim(decided)
            for b in decided.releases:
                # Held, yet gone from AWS: removed out of band. A re-add planned here records
                # the holding again only if it succeeds.
                self.view.release(b)
            for b in actual.unconfirmed:
                if b.ic_user_id in aws_holders.get(b.target_key, ()):
                    self.view.confirm(b)  # a cut-off creation, read back
        result = self._apply(kind, cycle_id, decided, findings, deferred)
        result.unreadable = unreadable
        if decided.held_end is not None and reading.judge_after is not None:
            # The end is trusted once monotonic time reaches it: as far from now as the wall
            # clock is ahead.
            result.recheck_at = decided.held_end + (now - reading.judge_after)
        result.cycle_id = cycle_id
        return result

    def _done(self, result: CycleResult, obs: Observation, started: float) -> CycleResult:
        result.read_groups = obs.groups_read
        result.seconds = self.clock.monotonic() - started
        if result.cycle_id is not None:
            self._finish(result.cycle_id, result)
            cycle_log.summary(
                result.kind,
                result.read_groups,
                result.applied,
                result.held,
                result.failed,
                result.seconds,
            )
        return result

    def remove_now(self, changes: Iterable[Change], kind: str = "revoke") -> CycleResult:
        """Apply these removals at once, outside any plan (an incident's revoke), recorded
        like every change: a cycle, and an intent before and an outcome after each call. No
        denial is timed around them: the caller has denied the users' sessions already."""
        with self._lock:
            cycle_id = self.view.start_cycle(kind, self.clock.now())
            decided, deferred = self._claim(Plan(changes=tuple(changes)))
        result = self._apply(kind, cycle_id, decided, [], deferred, timed_denial=False)
        self._finish(cycle_id, result)
        return result

    def _claim(self, decided: Plan) -> tuple[Plan, list[Change]]:
        """Take the plan's bindings for this cycle. A binding another cycle is still applying is
        deferred: its outcome is not known yet, and the next cycle re-plans it."""
        busy = set(self._inflight)
        mine = [c for c in decided.changes if c.binding not in busy]
        deferred = [c for c in decided.changes if c.binding in busy]
        self._inflight.update(c.binding for c in mine)
        releases = tuple(b for b in decided.releases if b not in busy)
        return replace(decided, changes=tuple(mine), releases=releases), deferred

    def _apply(
        self,
        kind: str,
        cycle_id: int,
        decided: Plan,
        findings: list[Finding],
        deferred: list[Change],
        *,
        timed_denial: bool = True,
    ) -> CycleResult:
        """Runs outside the planning lock, so an expiry never waits for a poll's slow writes."""
        result = CycleResult(
            kind,
            decided,
            findings=[*findings, *named(decided.findings, self.user_names)],
            deferred=deferred,
        )
        self._report(kind, cycle_id, result)
        if decided.empty:
            return result
        # Removals before additions, and within each the synchronous membership writes before
        # the assignments, which hold a worker while AWS processes them: the quick ones are
        # not left queueing behind the slow.
        ordered = sorted(
            decided.changes,
            key=lambda c: (c.op != "remove", not isinstance(c.binding.target, GroupMembership)),
        )
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            outcomes = pool.map(lambda c: self._apply_change(cycle_id, c, timed_denial), ordered)
            for change, (error, problems) in zip(ordered, outcomes, strict=True):
                result.unplaced.extend(problems)
                if error:
                    result.failed.append((change, error))
                else:
                    result.applied.append(change)
        return result

    def _report(self, kind: str, cycle_id: int, result: CycleResult) -> None:
        with self._lock:
            # A finding that persists (an unknown user, drift left in place) is recorded when
            # it appears, not on every poll: the ledger would otherwise grow without bound.
            fresh = [f for f in result.findings if f not in self._reported[kind]]
            self._reported[kind] = set(result.findings)
        self.view.record_findings(cycle_id, fresh, self.clock.now())
        cycle_log.findings(result.findings, fresh)
        cycle_log.held(result.held, self.desired.labels)

    def _apply_change(
        self, cycle_id: int, change: Change, timed_denial: bool = True
    ) -> tuple[str | None, list[str]]:
        """One change; a removal goes through session denial, which times its Deny around it."""
        try:
            if self.denial is not None and timed_denial:
                if change.op == "remove":
                    return self.denial.remove(
                        change, lambda: self._calls.call(cycle_id, change, self.desired.labels)
                    )
                self.denial.hold_for_bound(change.binding.ic_user_id)
            return self._calls.call(cycle_id, change, self.desired.labels), []
        finally:
            with self._lock:
                self._inflight.discard(change.binding)

    def _finish(self, cycle_id: int, result: CycleResult) -> None:
        self.view.finish_cycle(cycle_id, self.clock.now(), result.status, result.summary())
