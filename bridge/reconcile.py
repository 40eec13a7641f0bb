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

from bridge.config import Config, MappingConfig
from bridge.errors import BridgeError, ConfigError, SinkError
from bridge.ledger import GrantSync, Ledger
from bridge.model import (
    AccountAssignment,
    Binding,
    Change,
    Finding,
    Grant,
    GroupMembership,
    Plan,
    Reason,
    Target,
    User,
)
from bridge.ports import Clock, GroupRead, IdentityCenter, PimInstance, PimSource
from bridge.revoke import DenialReport, RemovalTimes, denial_bound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scope:
    """What the bridge may touch and how: the mapping config, resolved to target keys."""

    managed: frozenset[str]  # every target key named by a mapping
    drift_remove: frozenset[str]  # targets where every mapping naming them says drift = remove
    unreadable: frozenset[str] = frozenset()  # mappings whose PIM state is unknown this cycle
    targets_of: Mapping[str, frozenset[str]] = field(default_factory=dict)  # mapping -> keys
    max_removals: int = 50


@dataclass(frozen=True)
class Actual:
    """What exists. `live` holds holders read from AWS per target key; a target missing from it
    falls back to the ledger's holdings (the fast poll reads no AWS state)."""

    held: frozenset[Binding]
    live: Mapping[str, frozenset[str]] = field(default_factory=dict)
    ledger_grants: tuple[Grant, ...] = ()
    # The last end of every grant the ledger recorded, ended ones included, for held bindings
    # (None: one of them had no end). A removal past that end is an expiry, even when PIM
    # deactivated the grant earlier and the safety brake held that removal back.
    past_ends: Mapping[Binding, datetime | None] = field(default_factory=dict)


def plan(desired: Iterable[Grant], actual: Actual, scope: Scope, now: datetime) -> Plan:
    """The changes that make Identity Center match PIM at `now`, each with its reason."""
    # A mapping we could not read keeps what the ledger says it granted, until that grant's own
    # end: an outage must never look like "everyone deactivated".
    carried = [g for g in actual.ledger_grants if g.mapping in scope.unreadable and g.live_at(now)]
    want: dict[Binding, list[Grant]] = defaultdict(list)
    for g in [*desired, *carried]:
        if g.live_at(now) and g.target.key in scope.managed:
            want[Binding(g.user.ic_user_id, g.target.key)].append(g)

    present: set[Binding] = set()
    for key, users in actual.live.items():
        if key in scope.managed:
            present.update(Binding(u, key) for u in users)
    # One pass over the holdings, not one per managed target: both run to tens of thousands.
    present.update(
        b for b in actual.held if b.target_key in scope.managed and b.target_key not in actual.live
    )

    ended_by = _last_end_by_binding(actual.ledger_grants)
    names = {g.user.ic_user_id: g.user.name for g in actual.ledger_grants}
    shielded = {k for m in scope.unreadable for k in scope.targets_of.get(m, ())}

    adds: list[Change] = []
    removes: list[Change] = []
    found: list[Finding] = []
    for b in sorted(want.keys() - present):
        g = max(want[b], key=_end_sort_key)
        reason = Reason.DRIFT if b in actual.held else Reason.ACTIVATED
        adds.append(Change("add", b, reason, g.mapping, g.user.name, g.not_after))
    for b in sorted(present - want.keys()):
        if b in actual.held:
            end = actual.past_ends[b] if b in actual.past_ends else ended_by.get(b)
            reason = Reason.EXPIRED if end is not None and end <= now else Reason.DEACTIVATED
            removes.append(Change("remove", b, reason, user_name=names.get(b.ic_user_id)))
        elif b.target_key in scope.drift_remove and b.target_key not in shielded:
            removes.append(Change("remove", b, Reason.DRIFT))
            found.append(
                Finding("drift", f"{b.ic_user_id} on {b.target} has no PIM basis: removing")
            )
        else:
            found.append(Finding("drift", f"{b.ic_user_id} on {b.target} has no PIM basis"))

    # The brake guards against a bad read looking like mass deactivation. Expiries come from
    # end times the ledger recorded when PIM granted access, so they are never held back.
    judged = [c for c in removes if c.reason is not Reason.EXPIRED]
    if len(judged) > scope.max_removals:
        found.append(
            Finding(
                "safety_brake",
                f"{len(judged)} removals exceed safety.max_removals_per_cycle = "
                f"{scope.max_removals}: none but expiries applied this cycle",
            )
        )
        removes = [c for c in removes if c.reason is Reason.EXPIRED]
    # Removals first: when the instance's 20 calls/s are the bottleneck, ending access waits
    # for nobody's new access.
    return Plan(changes=(*removes, *adds), findings=tuple(found))


def _end_sort_key(g: Grant) -> datetime:
    return g.not_after or datetime.max.replace(tzinfo=g.not_before.tzinfo)


def _last_end_by_binding(ledger: Iterable[Grant]) -> dict[Binding, datetime]:
    out: dict[Binding, datetime] = {}
    for g in ledger:
        if g.not_after is None:
            continue
        b = Binding(g.user.ic_user_id, g.target.key)
        out[b] = max(out.get(b, g.not_after), g.not_after)
    return out


# -- the cycle -------------------------------------------------------------------------------


@dataclass
class Observation:
    grants: list[Grant] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    read: set[str] = field(default_factory=set)  # mappings whose PIM state is known
    unreadable: set[str] = field(default_factory=set)
    # Read, but with items that could not be parsed: one of them may be a live instance, so
    # nobody of the mapping counts as deactivated this cycle (new instances are still mirrored).
    partial: set[str] = field(default_factory=set)


@dataclass
class CycleResult:
    kind: str
    plan: Plan
    applied: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unreadable: set[str] = field(default_factory=set)
    grant_sync: GrantSync | None = None
    dry_run: bool = False
    deferred: list[Change] = field(default_factory=list)  # another cycle was applying them

    @property
    def status(self) -> str:
        if self.dry_run:
            return "dry-run"
        return "partial" if self.failed or self.unreadable else "ok"

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.unreadable else 0

    def summary(self) -> dict[str, object]:
        return {
            "adds": len(self.plan.adds),
            "removes": len(self.plan.removes),
            "applied": len(self.applied),
            "failed": len(self.failed),
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
# An armed denial's bound lies this much past the end plus the expected removal time, so the
# expiry's own denial (bound: when it started, plus the expected removal time) needs no write.
ARM_SLACK = timedelta(seconds=1)


class Reconciler:
    """One object per process: resolves the mapping once, then runs cycles on demand."""

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
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.source = source
        self.ic = ic
        self.ledger = ledger
        self.clock = clock
        self.workers = workers
        self.on_removed = on_removed
        self.on_arm: ArmHook | None = None
        self._armed: dict[Binding, tuple[datetime, datetime]] = {}  # binding -> (bound, end)
        self._arm_lock = threading.Lock()
        self.sleep = sleep
        self.removal_times = RemovalTimes()
        # User id -> the latest bound a denial of their sessions was written with: their new
        # access waits until it has passed, so a re-activation's sessions are not denied.
        self._denied_until: dict[str, datetime] = {}
        self._targets: dict[str, tuple[Target, ...]] | None = None
        # Planning is serialised, and a binding being applied by one cycle is left alone by
        # the others (`_inflight`); observation and the AWS writes run outside the lock.
        self._lock = threading.Lock()
        self._inflight: set[Binding] = set()
        self._reported: dict[str, set[Finding]] = defaultdict(set)  # cycle kind -> last findings
        self.labels: dict[str, str] = {}  # target key -> the name the config used

    # -- resolution ----------------------------------------------------------------------

    def targets(self) -> dict[str, tuple[Target, ...]]:
        """Mapping name -> resolved targets. Names are resolved once; a name that does not exist
        is a config error naming the key."""
        if self._targets is None:
            resolved: dict[str, tuple[Target, ...]] = {}
            labels: dict[str, str] = {}
            for i, m in enumerate(self.config.mappings):
                ts: list[Target] = []
                if m.identity_center_group:
                    gid = self._resolve(
                        f"mappings[{i}].identity_center_group",
                        lambda m=m: self.ic.resolve_group(m.identity_center_group),
                    )
                    ts.append(GroupMembership(gid))
                    labels[ts[-1].key] = m.identity_center_group
                for j, a in enumerate(m.assignments):
                    arn = self._resolve(
                        f"mappings[{i}].assignments[{j}].permission_set",
                        lambda a=a: self.ic.resolve_permission_set(a.permission_set),
                    )
                    ts.append(AccountAssignment(a.account_id, arn))
                    labels[ts[-1].key] = f"{a.permission_set.rsplit('/', 1)[-1]} @ {a.account_id}"
                resolved[m.name] = tuple(ts)
            self._targets, self.labels = resolved, labels
        return self._targets

    @staticmethod
    def _resolve(key: str, call: Callable[[], str]) -> str:
        try:
            return call()
        except SinkError as exc:
            if exc.temporary:
                raise
            raise ConfigError(key, str(exc)) from None

    def scope(self, unreadable: Iterable[str] = ()) -> Scope:
        targets = self.targets()
        modes: dict[str, set[str]] = defaultdict(set)
        for m in self.config.mappings:
            for t in targets[m.name]:
                modes[t.key].add(m.drift)
        return Scope(
            managed=frozenset(modes),
            drift_remove=frozenset(k for k, v in modes.items() if v == {"remove"}),
            unreadable=frozenset(unreadable),
            targets_of={n: frozenset(t.key for t in ts) for n, ts in targets.items()},
            max_removals=self.config.safety.max_removals_per_cycle,
        )

    # -- observe -------------------------------------------------------------------------

    def observe(self) -> Observation:
        obs = Observation()
        targets = self.targets()
        group_ids = sorted({m.entra_group_id for m in self.config.mappings})
        reads = self.source.read_groups(group_ids)
        users = self._resolve_users(reads)
        for m in self.config.mappings:
            read = reads.get(m.entra_group_id) or GroupRead(m.entra_group_id, error="not read")
            for why in read.skipped:
                obs.findings.append(Finding("bad_payload", why, m.name))
            if not read.ok:
                obs.unreadable.add(m.name)
                obs.findings.append(
                    Finding("unreadable_group", f"group {m.entra_group_id}: {read.error}", m.name)
                )
                continue
            try:
                obs.grants.extend(self._grants_for(m, read, targets[m.name], obs.findings, users))
                (obs.partial if read.skipped else obs.read).add(m.name)
            except SinkError as exc:
                # A lookup that failed is not "no such user": treat the mapping as unknown.
                obs.unreadable.add(m.name)
                obs.findings.append(
                    Finding("unreadable_group", f"user lookup failed: {exc}", m.name)
                )
        return obs

    def _resolve_users(self, reads: Mapping[str, GroupRead]) -> dict[str, str | BaseException]:
        """Identity Center user id (or the lookup's failure) per matched attribute value.

        A principal whose instance the ledger already holds a live grant for keeps the id
        resolved when that grant was made: a warm poll of 20,000 grants then makes no AWS read,
        and a restart does not look every user up again (20,000 GetUserId calls are 1,000 s at
        Identity Center's 20 calls/s). New instances are looked up in parallel, so a burst of
        activations is bound by the API rate, not by one call's round trip."""
        attr_in = self.config.matching.entra_attribute
        attr_ic = self.config.matching.identity_center_attribute
        known = self.ledger.live_principals()
        out: dict[str, str | BaseException] = {}
        todo: set[str] = set()
        for read in reads.values():
            for inst in read.instances:
                value = inst.principal.get(attr_in)
                if not value or value in out:
                    continue
                ic_id = known.get((inst.id, inst.principal_id, value))
                if ic_id is not None:
                    out[value] = ic_id
                else:
                    todo.add(value)
        todo -= out.keys()

        def look_up(value: str) -> str | BaseException | None:
            try:
                return self.ic.find_user_id(attr_ic, value)
            except SinkError as exc:
                return exc

        if todo:
            ordered = sorted(todo)
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                for value, found in zip(ordered, pool.map(look_up, ordered), strict=True):
                    if found is not None:
                        out[value] = found
        return out

    def _grants_for(
        self,
        m: MappingConfig,
        read: GroupRead,
        targets: tuple[Target, ...],
        found: list[Finding],
        users: Mapping[str, str | BaseException],
    ) -> list[Grant]:
        out: list[Grant] = []
        attr_in, attr_ic = (
            self.config.matching.entra_attribute,
            self.config.matching.identity_center_attribute,
        )
        for inst in read.instances:
            if not self._counts(m, inst):
                continue
            if inst.member_type == "group" or inst.principal_type not in ("user", "unknown"):
                found.append(
                    Finding(
                        "nested_group",
                        f"{inst.principal_type} {inst.principal_id} in group {m.entra_group_id} "
                        f"({inst.member_type}): transitive members are not mirrored",
                        m.name,
                    )
                )
                continue
            value = inst.principal.get(attr_in)
            ic_id = users.get(value) if value else None
            if isinstance(ic_id, BaseException):
                raise ic_id
            if ic_id is None:
                who = value or inst.principal_id
                found.append(
                    Finding(
                        "unresolved_user",
                        f"{who}: no Identity Center user with {attr_ic} = {value!r}",
                        m.name,
                    )
                )
                continue
            user = User(inst.principal_id, value or inst.principal_id, ic_id)
            for t in targets:
                out.append(
                    Grant(
                        user,
                        t,
                        inst.start,
                        inst.end,
                        inst.id,
                        m.name,
                        inst.justification,
                        inst.ticket,
                        inst.approver,
                    )
                )
        return out

    @staticmethod
    def _counts(m: MappingConfig, inst: PimInstance) -> bool:
        if inst.access_id != m.access:
            return False
        if inst.assignment_type == "activated":
            return True
        return inst.assignment_type == "assigned" and m.include_permanent

    # -- cycles --------------------------------------------------------------------------

    def live_state(self, keys: Iterable[str]) -> tuple[dict[str, frozenset[str]], list[Finding]]:
        by_key = {t.key: t for ts in self.targets().values() for t in ts}
        live: dict[str, frozenset[str]] = {}
        found: list[Finding] = []
        for key in sorted(set(keys)):
            try:
                live[key] = frozenset(self.ic.holders(by_key[key]))
            except BridgeError as exc:
                found.append(Finding("withheld", f"could not read {by_key[key]}: {exc}"))
        return live, found

    def cycle(
        self, *, kind: str = "poll", dry_run: bool = False, live: bool = False
    ) -> CycleResult:
        """Observe PIM, plan against the ledger (and AWS when `live`), apply."""
        # Reads happen outside the lock: a slow or failing Graph must never hold up an expiry.
        obs = self.observe()
        # A partly unreadable mapping keeps its ledger grants until their own end, like an
        # unreadable one, but its cycle is not failed: the bad items are reported as findings.
        scope = self.scope(obs.unreadable | obs.partial)
        findings = list(obs.findings)
        live_state: dict[str, frozenset[str]] = {}
        if live:
            live_state, more = self.live_state(scope.managed)
            findings += more
            # A target we could not read keeps its drift to itself: no foreign removals there.
            unread = scope.managed - live_state.keys()
            scope = replace(scope, drift_remove=scope.drift_remove - unread)
        with self._lock:
            now = self.clock.now()
            holdings = self.ledger.holdings()
            if dry_run:
                actual = Actual(frozenset(holdings), live_state, tuple(self.ledger.live_grants()))
                p = plan(obs.grants, actual, scope, now)
                return CycleResult(
                    kind,
                    p,
                    findings=[*findings, *p.findings],
                    unreadable=obs.unreadable,
                    dry_run=True,
                )
            cycle_id = self.ledger.start_cycle(kind, now)
            synced = self.ledger.sync_grants(obs.grants, obs.read, now)
            # Grants of unreadable mappings whose end passed are expired from the ledger alone.
            expired = self.ledger.end_expired(now)
            ledger_grants = tuple(self.ledger.live_grants())
            ended = (*(g for g, _ in synced.ended), *expired)
            actual = Actual(
                frozenset(holdings),
                live_state,
                (*ledger_grants, *ended),
                self._past_ends(holdings, ledger_grants, now),
            )
            busy = set(self._inflight)  # bindings other cycles are applying
            p, deferred = self._claim(plan(obs.grants, actual, scope, now))
            if live:
                # Held, yet gone from AWS: removed out of band. Forget it unless another cycle
                # is applying it. A re-add planned here records the holding again only if it
                # succeeds: a failed one must not leave the ledger claiming what AWS lacks.
                for b in frozenset(holdings) - busy:
                    if b.target_key in live_state and b.ic_user_id not in live_state[b.target_key]:
                        self.ledger.release(b)
        result = self._apply(kind, cycle_id, p, findings, deferred)
        result.unreadable = obs.unreadable
        result.grant_sync = synced
        self._finish(cycle_id, result)
        return result

    def expire(self) -> CycleResult:
        """Revoke whatever the ledger says has ended. No Graph call: runs through an outage."""
        with self._lock:
            now = self.clock.now()
            cycle_id = self.ledger.start_cycle("expiry", now)
            ended = self.ledger.end_expired(now)
            live_grants = self.ledger.live_grants()
            # Every mapping counts as unread here: the ledger's live grants are the whole truth.
            scope = self.scope(unreadable=[m.name for m in self.config.mappings])
            held = self.ledger.holdings()
            past = self._past_ends(held, live_grants, now)
            actual = Actual(frozenset(held), {}, (*live_grants, *ended), past)
            p, deferred = self._claim(plan([], actual, scope, now))
        result = self._apply("expiry", cycle_id, p, [], deferred)
        self._finish(cycle_id, result)
        return result

    def _past_ends(
        self, held: Iterable[Binding], live: Iterable[Grant], now: datetime
    ) -> dict[Binding, datetime | None]:
        """Recorded ends of the held bindings no live grant covers: the removal candidates."""
        covered = {Binding(g.user.ic_user_id, g.target.key) for g in live if g.live_at(now)}
        candidates = [b for b in held if b not in covered]
        return self.ledger.last_ends(candidates) if candidates else {}

    def _claim(self, p: Plan) -> tuple[Plan, list[Change]]:
        """Take the plan's bindings for this cycle. A binding another cycle is still applying is
        deferred: its outcome is not known yet, and the next cycle re-plans it."""
        mine = [c for c in p.changes if c.binding not in self._inflight]
        deferred = [c for c in p.changes if c.binding in self._inflight]
        self._inflight.update(c.binding for c in mine)
        return replace(p, changes=tuple(mine)), deferred

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
        with self._lock:
            # A finding that persists (an unknown user, drift left in place) is recorded when
            # it appears, not on every poll: the ledger would otherwise grow without bound.
            fresh = [f for f in result.findings if f not in self._reported[kind]]
            self._reported[kind] = set(result.findings)
        self.ledger.record_findings(cycle_id, fresh, self.clock.now())
        for f in result.findings:
            # Alerts repeat every cycle while they last; the rest are logged when they appear.
            if f.kind in ("safety_brake", "unreadable_group"):
                log.warning("%s: %s", f.kind, f.detail)
            elif f in fresh:
                log.info("%s: %s", f.kind, f.detail)
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
            outcomes = pool.map(lambda c: self._one(cycle_id, c), ordered)
            for change, error in zip(ordered, outcomes, strict=True):
                if error:
                    result.failed.append((change, error))
                else:
                    result.applied.append(change)
        return result

    def _one(self, cycle_id: int, change: Change) -> str | None:
        try:
            if change.op == "remove" and self.on_removed is not None:
                return self._remove_and_deny(cycle_id, change)
            if change.op == "add":
                self._await_denial_bound(change.binding.ic_user_id)
            return self._call(cycle_id, change)
        finally:
            with self._lock:
                self._inflight.discard(change.binding)

    def _remove_and_deny(self, cycle_id: int, change: Change) -> str | None:
        """Remove, and deny the user's older sessions at the same time rather than after: both
        wait on Identity Center's asynchronous requests, so in sequence they would take twice
        as long. The denial covers sessions issued before a bound a little past the removal's
        expected end (`RemovalTimes`); a removal that outlasts it is denied again at its end."""
        target = change.binding.target
        user = change.binding.ic_user_id
        start = self.clock.now()
        bound = start + self.removal_times.margin(target)
        with self._lock:
            armed = self._armed.get(change.binding)
            if armed is not None and armed[1] <= start:
                # Armed ahead of this end and in force since: its bound is the one to keep
                # (the write below then finds nothing to change).
                bound = max(bound, armed[0])
            self._denied_until[user] = max(self._denied_until.get(user, bound), bound)
        ahead = threading.Thread(
            target=self._deny, args=(change, bound), name="deny-ahead", daemon=True
        )
        ahead.start()
        error = self._call(cycle_id, change)
        done = self.clock.now()
        ahead.join()
        if error is None:
            self.removal_times.record(target, done - start)
            if denial_bound(done) > denial_bound(bound):
                self._deny(change, done)
        return error

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

    def _deny(self, change: Change, before: datetime) -> None:
        assert self.on_removed is not None
        try:
            self.on_removed([change], before)
        except BridgeError as exc:
            log.error("denying older sessions after %s: %s", change, exc)

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
