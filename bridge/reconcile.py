"""Decide and apply. `plan()` is pure: what should change, each change with its reason.
`Reconciler` observes (Graph + Identity Center + ledger), plans, and applies idempotently,
writing intent before and outcome after every AWS call.

Level-triggered, like a Kubernetes controller: every cycle recomputes desired state from the
world, so a missed poll or a crash costs time, never correctness.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bridge.clockwatch import ClockWatch
from bridge.config import Config
from bridge.desired import Desired, Observation
from bridge.errors import BridgeError
from bridge.model import (
    Binding,
    Change,
    Ended,
    Finding,
    Grant,
    GrantVerdicts,
    GroupMembership,
    Moved,
    Plan,
    Reason,
    Scope,
    Target,
    target_from_key,
)
from bridge.ports import Clock, IdentityCenter, PimSource
from bridge.revoke import DenialReport, RemovalTimes, denial_bound
from bridge.store import ADDING, Ledger

log = logging.getLogger(__name__)

# Findings that are alerts: logged as a WARNING on every cycle while they last.
ALERTS = frozenset(
    {"safety_brake", "unreadable_group", "unresolved_mapping", "clock_jump", "withheld"}
)


@dataclass(frozen=True)
class Actual:
    """What exists, as the ledger held it before this cycle's read. `live` holds holders read
    from AWS per target key; a target missing from it falls back to the ledger's holdings (the
    fast poll reads no AWS state)."""

    held: frozenset[Binding]
    live: Mapping[str, frozenset[str]] = field(default_factory=dict)
    ledger_grants: tuple[Grant, ...] = ()  # the ledger's live grants
    # The last end of every grant the ledger recorded, ended ones included, for held bindings
    # (None: one of them had no end). A removal past that end is an expiry, even when PIM
    # deactivated the grant earlier and the safety brake held that removal back.
    past_ends: Mapping[Binding, datetime | None] = field(default_factory=dict)
    # Held bindings whose creation a stop cut off: they may exist or not (an asynchronous
    # creation still in progress is not listed yet), so they are never released, only added
    # again while wanted or removed (removing what is absent costs nothing).
    unconfirmed: frozenset[Binding] = frozenset()


def read_actual(
    ledger: Ledger, now: datetime, live: Mapping[str, frozenset[str]] | None = None
) -> Actual:
    """The one builder of `Actual`, for the dry run, the poll, the drift sweep and the expiry."""
    holdings = ledger.holdings()
    held = frozenset(holdings)
    grants = tuple(ledger.live_grants())
    covered = {_binding(g) for g in grants if g.live_at(now)}
    candidates = [b for b in held if b not in covered]
    past = ledger.last_ends(candidates) if candidates else {}
    unconfirmed = frozenset(b for b, h in holdings.items() if h.state == ADDING)
    return Actual(held, dict(live or {}), grants, past, unconfirmed)


def plan(desired: Iterable[Grant], actual: Actual, scope: Scope, now: datetime) -> Plan:
    """Every decision of a cycle with its reason: what the ledger records about PIM's grants,
    which bindings to add and remove, which removals the brake holds, what to forget."""
    desired = list(desired)
    verdicts, carried = _grant_verdicts(desired, actual, scope, now)
    keep: dict[Binding, list[Grant]] = defaultdict(list)
    for g in desired:
        if g.live_at(now) and g.target.key in scope.managed:
            keep[_binding(g)].append(g)
    for g in carried:
        keep[_binding(g)].append(g)
    present, releases, missing = _present(actual, scope)
    recorded = _recorded_ends(actual.ledger_grants)
    orphaned = {_binding(e.grant) for e in verdicts.ended if e.reason is Reason.ORPHANED}
    names = {g.user.ic_user_id: g.user.name for g in (*actual.ledger_grants, *desired)}
    shielded = {k for m in scope.unreadable for k in scope.targets_of.get(m, ())}

    adds: list[Change] = []
    removes: list[Change] = []
    found: list[Finding] = [_orphan_finding(g, scope) for g in carried if scope.orphaned(g)]
    for b in sorted((keep.keys() - present) | (keep.keys() & missing)):
        grants = [g for g in keep[b] if not scope.orphaned(g)]
        if not grants or b.target_key not in scope.managed:
            continue  # an orphan keeps what it has until its end, and gains nothing
        g = max(grants, key=_end_sort_key)
        reason = Reason.DRIFT if b in actual.held else Reason.ACTIVATED
        adds.append(Change("add", b, reason, g.mapping, g.user.name, g.not_after))
    for b in sorted(present - keep.keys()):
        if b in actual.held:
            end = actual.past_ends[b] if b in actual.past_ends else recorded.get(b)
            reason = _removal_reason(b, end, now, scope, orphaned)
            removes.append(Change("remove", b, reason, user_name=names.get(b.ic_user_id)))
        elif b.target_key in scope.drift_remove and b.target_key not in shielded:
            removes.append(Change("remove", b, Reason.DRIFT))
            found.append(_drift_finding(b, scope, "removing"))
        else:
            found.append(_drift_finding(b, scope, None))
    removes, held = _brake(removes, recorded, actual, scope, now, found)
    # Removals first: when the instance's 20 calls/s are the bottleneck, ending access waits
    # for nobody's new access.
    return Plan(
        changes=(*removes, *adds),
        findings=tuple(found),
        held=tuple(held),
        releases=tuple(sorted(releases)),
        grants=verdicts,
    )


def _grant_verdicts(
    desired: list[Grant], actual: Actual, scope: Scope, now: datetime
) -> tuple[GrantVerdicts, list[Grant]]:
    """What the ledger records about PIM's grants, and the ledger grants carried this cycle
    (their mapping could not be read, or is gone: they last until their own recorded end)."""
    listed: dict[tuple[str, str, str], Grant] = {}
    for g in desired:
        listed.setdefault(_grant_key(g), g)
    moved: list[Moved] = []
    seen: list[Grant] = []
    ended: list[Ended] = []
    carried: list[Grant] = []
    for g in actual.ledger_grants:
        now_listed = listed.pop(_grant_key(g), None)
        if now_listed is not None:
            _judge_listed(g, now_listed, now, moved, seen, ended)
        elif g.not_after is not None and g.not_after <= now:
            ended.append(Ended(g, Reason.EXPIRED, g.not_after))
        elif scope.orphaned(g):
            # Nothing reads its mapping any more: it lasts until its recorded end, and one
            # without an end, which nothing would ever end, ends now.
            if g.not_after is None:
                ended.append(Ended(g, Reason.ORPHANED, now))
            else:
                carried.append(g)
        elif g.mapping in scope.unreadable:
            if g.live_at(now):
                carried.append(g)
        elif g.not_after is None and not scope.permanent_allowed(g.mapping):
            ended.append(Ended(g, Reason.ORPHANED, now))
        else:
            ended.append(Ended(g, Reason.DEACTIVATED, now))
    new = tuple(g for g in listed.values() if g.not_after is None or g.not_after > now)
    return GrantVerdicts(new, tuple(moved), tuple(seen), tuple(ended)), carried


def _judge_listed(
    was: Grant,
    now_listed: Grant,
    now: datetime,
    moved: list[Moved],
    seen: list[Grant],
    ended: list[Ended],
) -> None:
    end, before = now_listed.not_after, was.not_after
    if end is not None and end <= now:
        if before is None or end < before:
            # This read moved the end into the past: PIM ended it early. The ledger keeps the
            # end it recorded, so the removal is judged by the brake like a deactivation.
            ended.append(Ended(was, Reason.DEACTIVATED, now))
        else:
            ended.append(Ended(now_listed, Reason.EXPIRED, end))
        return
    details = ("justification", "ticket", "approver")
    if end != before or any(
        getattr(now_listed, d) and getattr(now_listed, d) != getattr(was, d) for d in details
    ):
        moved.append(Moved(now_listed, before))
    else:
        seen.append(was)


def _present(actual: Actual, scope: Scope) -> tuple[set[Binding], set[Binding], set[Binding]]:
    """Bindings that exist now (or may), held bindings gone from AWS (removed out of band), and
    unconfirmed creations AWS does not list."""
    present: set[Binding] = set()
    for key, users in actual.live.items():
        if key in scope.managed:
            present.update(Binding(u, key) for u in users)
    recorded = {_binding(g) for g in actual.ledger_grants} | actual.past_ends.keys()
    releases: set[Binding] = set()
    missing: set[Binding] = set()
    # One pass over the holdings, not one per managed target: both run to tens of thousands.
    for b in actual.held:
        if b.target_key in actual.live and b.target_key in scope.managed:
            if b in present:
                continue
            if b in actual.unconfirmed:
                present.add(b)
                missing.add(b)
            else:
                releases.add(b)
        elif b.target_key in scope.managed or b in recorded:
            # Outside every mapping, only what the ledger recorded a grant for is ours to end.
            present.add(b)
    return present, releases, missing


def _removal_reason(
    b: Binding,
    end: datetime | None,
    now: datetime,
    scope: Scope,
    orphaned: set[Binding],
) -> Reason:
    if end is not None and end <= now:
        return Reason.EXPIRED
    if b in orphaned or b.target_key not in scope.managed:
        return Reason.ORPHANED
    return Reason.DEACTIVATED


def _brake(
    removes: list[Change],
    recorded: Mapping[Binding, datetime],
    actual: Actual,
    scope: Scope,
    now: datetime,
    found: list[Finding],
) -> tuple[list[Change], list[Change]]:
    """The brake guards against a bad read (or a jumping clock) looking like mass removal.
    Expiries at ends the ledger recorded before this read are never held back."""

    def judged(c: Change) -> bool:
        if c.reason is not Reason.EXPIRED:
            return True
        end = actual.past_ends.get(c.binding) or recorded.get(c.binding)
        return scope.judge_after is not None and end is not None and end > scope.judge_after

    held = [c for c in removes if judged(c)]
    if len(held) <= scope.max_removals:
        return removes, []
    found.append(
        Finding(
            "safety_brake",
            f"{len(held)} removals exceed safety.max_removals_per_cycle = "
            f"{scope.max_removals}: held back, only expiries applied this cycle",
        )
    )
    return [c for c in removes if not judged(c)], held


def _orphan_finding(g: Grant, scope: Scope) -> Finding:
    end = f"{g.not_after:%Y-%m-%d %H:%M:%SZ}" if g.not_after else "no end"
    detail = (
        f"{g.user.name} -> {scope.label(g.target.key)}: mapping {g.mapping!r} no longer names "
        f"it; removed at its recorded end ({end})"
    )
    return Finding("orphan", detail, g.mapping)


def _drift_finding(b: Binding, scope: Scope, action: str | None) -> Finding:
    detail = f"{b.ic_user_id} on {scope.label(b.target_key)} has no PIM basis"
    return Finding("drift", f"{detail}: {action}" if action else detail)


def _binding(g: Grant) -> Binding:
    return Binding(g.user.ic_user_id, g.target.key)


def _grant_key(g: Grant) -> tuple[str, str, str]:
    return (g.mapping, g.source_instance_id, g.target.key)


def _end_sort_key(g: Grant) -> datetime:
    return g.not_after or datetime.max.replace(tzinfo=g.not_before.tzinfo)


def _recorded_ends(ledger: Iterable[Grant]) -> dict[Binding, datetime]:
    out: dict[Binding, datetime] = {}
    for g in ledger:
        if g.not_after is None:
            continue
        b = _binding(g)
        out[b] = max(out.get(b, g.not_after), g.not_after)
    return out


# -- the cycle -------------------------------------------------------------------------------


@dataclass
class CycleResult:
    kind: str
    plan: Plan
    applied: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)
    dry_run: bool = False
    deferred: list[Change] = field(default_factory=list)  # another cycle was applying them
    unplaced: list[str] = field(default_factory=list)  # session denials that were not written

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
        }


# Denies the removed users' sessions issued before the given time; called while each removal
# runs, and again after it when it outlasted that time.
RemovalHook = Callable[[list[Change], datetime], object]
# Writes denials ahead of grants' ends (binding -> (bound, end)) and withdraws those of the given
# bindings (`Revoker.arm`).
ArmHook = Callable[[Mapping[Binding, tuple[datetime, datetime]], list[Binding]], DenialReport]

# How long before a grant's end its denial is written (armed), in force from the end itself: long
# enough for the write and the provisioning to finish first, even when a burst of ends shares
# the instance's 20 calls/s; short enough that few extensions arrive after it.
ARM_LEAD = timedelta(seconds=30)
# How often the service arms (besides after every poll).
ARM_TICK = timedelta(seconds=10)
# How long an expiry job waits for Graph to confirm the ends it is about to revoke.
CONFIRM_DEADLINE = 1.0
# An armed denial's bound lies this much past the end plus the expected removal time, so the
# expiry's own denial (bound: when it started, plus the expected removal time) needs no write.
ARM_SLACK = timedelta(seconds=1)


class Reconciler:
    """One object per process: runs cycles on demand against the ports, serialising planning."""

    def __init__(
        self,
        config: Config,
        source: PimSource,
        ic: IdentityCenter,
        ledger: Ledger,
        clock: Clock,
        *,
        workers: int = 10,
        on_removed: RemovalHook | None = None,
        on_arm: ArmHook | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.ic = ic
        self.ledger = ledger
        self.clock = clock
        self.watch = ClockWatch(clock)
        self.desired = Desired(config, source, ic, ledger.live_principals, workers=workers)
        self.workers = workers
        self.on_removed = on_removed
        self.on_arm = on_arm
        self._armed: dict[Binding, tuple[datetime, datetime]] = {}  # binding -> (bound, end)
        self._arm_lock = threading.Lock()
        self.sleep = sleep
        self.removal_times = RemovalTimes()
        # User id -> the latest bound a denial of their sessions was written with: their new
        # access waits until it has passed, so a re-activation's sessions are not denied.
        self._denied_until: dict[str, datetime] = {}
        # Planning is serialised, and a binding being applied by one cycle is left alone by
        # the others (`_inflight`); observation and the AWS writes run outside the lock.
        self._lock = threading.Lock()
        self._inflight: set[Binding] = set()
        self._reported: dict[str, set[Finding]] = defaultdict(set)  # cycle kind -> last findings
        self._trusted: datetime | None = None  # the latest monotonic estimate of now

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
        return [_orphan_finding(g, scope) for g in self.ledger.live_grants() if scope.orphaned(g)]

    # -- cycles --------------------------------------------------------------------------

    def live_state(self, keys: Iterable[str]) -> tuple[dict[str, frozenset[str]], list[Finding]]:
        live: dict[str, frozenset[str]] = {}
        found: list[Finding] = []
        for key in sorted(set(keys)):
            target = target_from_key(key)
            try:
                live[key] = frozenset(self.ic.holders(target))
            except BridgeError as exc:
                what = self.desired.labels.get(key) or str(target)
                found.append(Finding("withheld", f"could not read {what}: {exc}"))
        return live, found

    def cycle(
        self, *, kind: str = "poll", dry_run: bool = False, live: bool = False
    ) -> CycleResult:
        """Observe PIM, plan against the ledger (and AWS when `live`), apply."""
        # Reads happen outside the lock: a slow or failing Graph must never hold up an expiry.
        obs = self.desired.observe()
        # A partly unreadable mapping keeps its ledger grants until their own end, like an
        # unreadable one, but its cycle is not failed: the bad items are reported as findings.
        scope = self.desired.scope(obs.unknown)
        findings = list(obs.findings)
        live_state: dict[str, frozenset[str]] = {}
        if live:
            live_state, more = self.live_state(scope.managed)
            findings += more
            # A target we could not read keeps its drift to itself: no foreign removals there.
            unread = scope.managed - live_state.keys()
            scope = replace(scope, drift_remove=scope.drift_remove - unread)
        return self._run(kind, obs.grants, scope, findings, live_state, obs.unreadable, dry_run)

    def expire(self) -> CycleResult:
        """Revoke whatever the ledger says has ended. Graph is asked once, for the mappings whose
        grants are ending, within CONFIRM_DEADLINE: an extension made in the last seconds is
        honoured rather than revoked and given back. Whatever Graph does not answer in time is
        judged from the ledger alone, so an outage delays no revocation by more than that, and
        no Identity Center name is resolved here."""
        due = self.ledger.due_mappings(self.clock.now())
        obs = self.desired.observe(due, deadline=CONFIRM_DEADLINE) if due else Observation()
        # Every mapping not read just now counts as unread: the ledger's grants are the truth.
        scope = self.desired.scope([m.name for m in self.config.mappings if m.name not in obs.read])
        return self._run("expiry", obs.grants, scope, [], {}, set(), False)

    def _run(
        self,
        kind: str,
        grants: list[Grant],
        scope: Scope,
        findings: list[Finding],
        live_state: dict[str, frozenset[str]],
        unreadable: set[str],
        dry_run: bool,
    ) -> CycleResult:
        with self._lock:
            reading = self.watch.read()
            now, self._trusted = reading.now, reading.trusted
            if reading.finding is not None:
                findings = [*findings, reading.finding]
            scope = replace(scope, judge_after=reading.judge_after)
            actual = read_actual(self.ledger, now, live_state)
            p = plan(grants, actual, scope, now)
            if dry_run:
                found = [*findings, *p.findings]
                return CycleResult(kind, p, findings=found, unreadable=unreadable, dry_run=True)
            cycle_id = self.ledger.start_cycle(kind, now)
            self.ledger.record_verdicts(p.grants, now)
            p, deferred = self._claim(p)
            for b in p.releases:
                # Held, yet gone from AWS: removed out of band. A re-add planned here records
                # the holding again only if it succeeds.
                self.ledger.release(b)
            for b in actual.unconfirmed:
                if b.ic_user_id in live_state.get(b.target_key, ()):
                    self.ledger.confirm(b)  # a cut-off creation, read back
        result = self._apply(kind, cycle_id, p, findings, deferred)
        result.unreadable = unreadable
        self._finish(cycle_id, result)
        return result

    def _claim(self, p: Plan) -> tuple[Plan, list[Change]]:
        """Take the plan's bindings for this cycle. A binding another cycle is still applying is
        deferred: its outcome is not known yet, and the next cycle re-plans it."""
        busy = set(self._inflight)
        mine = [c for c in p.changes if c.binding not in busy]
        deferred = [c for c in p.changes if c.binding in busy]
        self._inflight.update(c.binding for c in mine)
        releases = tuple(b for b in p.releases if b not in busy)
        return replace(p, changes=tuple(mine), releases=releases), deferred

    def _apply(
        self,
        kind: str,
        cycle_id: int,
        p: Plan,
        findings: list[Finding],
        deferred: list[Change],
    ) -> CycleResult:
        """Runs outside the planning lock, so an expiry never waits for a poll's slow writes."""
        result = CycleResult(kind, p, findings=[*findings, *p.findings], deferred=deferred)
        self._report(kind, cycle_id, result)
        if p.empty:
            return result
        # Removals before additions, and within each the synchronous membership writes before
        # the assignments, which hold a worker while AWS processes them: the quick ones are
        # not left queueing behind the slow.
        ordered = sorted(
            p.changes,
            key=lambda c: (c.op != "remove", not isinstance(c.binding.target, GroupMembership)),
        )
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            outcomes = pool.map(lambda c: self._apply_change(cycle_id, c), ordered)
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
        self.ledger.record_findings(cycle_id, fresh, self.clock.now())
        for f in result.findings:
            # Alerts repeat every cycle while they last; the rest are logged when they appear.
            if f.kind in ALERTS:
                log.warning("%s: %s", f.kind, f.detail)
            elif f in fresh:
                log.info("%s: %s", f.kind, f.detail)
        if result.held:
            names = ", ".join(str(c) for c in result.held[:5])
            more = f" and {len(result.held) - 5} more" if len(result.held) > 5 else ""
            log.warning("%d removals held back: %s%s", len(result.held), names, more)

    def _apply_change(self, cycle_id: int, change: Change) -> tuple[str | None, list[str]]:
        try:
            if change.op == "remove" and self.on_removed is not None:
                return self._remove_and_deny(cycle_id, change)
            if change.op == "add":
                self._await_denial_bound(change.binding.ic_user_id)
            return self._call(cycle_id, change), []
        finally:
            with self._lock:
                self._inflight.discard(change.binding)

    def _remove_and_deny(self, cycle_id: int, change: Change) -> tuple[str | None, list[str]]:
        """Remove, and deny the user's older sessions at the same time rather than after: both
        wait on Identity Center's asynchronous requests, so in sequence they would take twice
        as long. The denial covers sessions issued before a bound a little past the removal's
        expected end (`RemovalTimes`); a removal that outlasts it is denied again at its end."""
        target = change.binding.target
        user = change.binding.ic_user_id
        start = self._denial_now()
        bound = start + self.removal_times.margin(target)
        with self._lock:
            armed = self._armed.get(change.binding)
            if armed is not None and armed[1] <= start:
                # Armed ahead of this end and in force since: its bound is the one to keep
                # (the write below then finds nothing to change).
                bound = max(bound, armed[0])
            self._denied_until[user] = max(self._denied_until.get(user, bound), bound)
        problems: list[str] = []
        ahead = threading.Thread(
            target=lambda: problems.extend(self._deny(change, bound)),
            name="deny-ahead",
            daemon=True,
        )
        ahead.start()
        error = self._call(cycle_id, change)
        done = self._denial_now()
        ahead.join()
        if error is None:
            self.removal_times.record(target, done - start)
            if denial_bound(done) > denial_bound(bound):
                problems.extend(self._deny(change, done))
        return error, problems

    def _denial_now(self) -> datetime:
        """Denial bounds never lie in the future: after a forward jump of the wall clock, the
        monotonic estimate of now is used, or a later re-activation's sessions would be denied."""
        return min(self.clock.now(), self.watch.read().trusted)

    def arm(self) -> None:
        """Arm the denials of held bindings whose grants end within ARM_LEAD, each in force from
        its end; withdraw those armed for an end that no longer comes (extended beyond the lead,
        ended early, or no longer held). Level-triggered: run after every poll and every
        ARM_TICK; what is already armed for the same end is not written again."""
        if self.on_arm is None:
            return
        with self._arm_lock:
            with self._lock:
                now = self.clock.now()
                want = self.ledger.ends_within(now, now + ARM_LEAD)
                fresh = {
                    b: (e + self.removal_times.margin(b.target) + ARM_SLACK, e)
                    for b, e in want.items()
                    if self._armed.get(b, (None, None))[1] != e
                }
                # An armed end that has come is in force; one that has not and is no longer
                # wanted must go, or it would deny the user's sessions at an end that never came.
                stale = [b for b, (_, e) in self._armed.items() if e > now and b not in want]
                # Entries in force are kept a little, for the expiry's removal to find its bound.
                self._armed = {
                    b: v
                    for b, v in self._armed.items()
                    if b in want or now - 2 * ARM_LEAD < v[1] <= now
                }
            if not fresh and not stale:
                return
            try:
                report = self.on_arm(fresh, stale)
            except BridgeError as exc:
                log.error("arming session denials failed: %s", exc)
                return
            if report.problems:
                return  # not recorded as armed: the next run tries again
            # Armings that found no room are left to the removal, which denies at once.
            with self._lock:
                self._armed.update(
                    {b: v for b, v in fresh.items() if b.ic_user_id not in report.unarmed}
                )

    def _deny(self, change: Change, before: datetime) -> list[str]:
        assert self.on_removed is not None
        try:
            report = self.on_removed([change], before)
        except BridgeError as exc:
            log.error("denying older sessions after %s: %s", change, exc)
            return [f"denial after {change} failed: {exc}"]
        return list(report.problems) if isinstance(report, DenialReport) else []

    def _await_denial_bound(self, user: str) -> None:
        """A session issued before a denial's bound is denied, so access given back sooner
        (a re-activation within seconds of the end) waits until the bound has passed."""
        with self._lock:
            until = self._denied_until.get(user)
            if until is not None and denial_bound(until) <= self.clock.now():
                del self._denied_until[user]
                return
        if until is not None:
            wait = (denial_bound(until) - self.clock.now()).total_seconds()
            if wait > 0:
                log.info("access for %s waits %.1fs for its session denial's bound", user, wait)
                self.sleep(wait)

    def _call(self, cycle_id: int, change: Change) -> str | None:
        change_id = self.ledger.record_intent(cycle_id, change, self.clock.now())
        target = change.binding.target
        try:
            if change.op == "add":
                self.ic.add(change.binding.ic_user_id, target)
            else:
                self.ic.remove(change.binding.ic_user_id, target)
        except BridgeError as exc:
            log.error("%s failed: %s", change, exc)
            self.ledger.record_outcome(change_id, change, self.clock.now(), error=str(exc))
            return str(exc)
        self.ledger.record_outcome(change_id, change, self.clock.now())
        log.info("%s", change)
        return None

    def _finish(self, cycle_id: int, result: CycleResult) -> None:
        self.ledger.finish_cycle(cycle_id, self.clock.now(), result.status, result.summary())
