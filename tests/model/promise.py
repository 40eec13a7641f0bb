"""The bridge's promise as checks over one step of the model: what Identity Center saw (the
world's `Op`s), the cycles the service ran (`CycleRecord`s), and the ledger after the step.

A. no binding the bridge made is held past its end + TOLERANCE: the latest end the ledger (or
   PIM) held for it while held, so an end a read moved earlier may be held by the brake;
   late by both the world's time and the machine's clock, since the bridge knows only its
   own (and a clock jumping over an end gives it no time before it lands);
B. no binding with a live PIM basis in a readable, resolvable, configured mapping is removed,
   unless the ledger already held its end as passed (an extension it had not read yet); live
   by the machine's clock as well as the world's, since the bridge knows only its own;
C. a cycle removes no more than `safety.max_removals_per_cycle` bindings not due by the ledger
   (an end the read moved earlier, a clock run ahead of the world), and a cycle whose brake
   held removals exits 1;
D. nothing the bridge did not make is removed, unless a mapping with drift = "remove" names
   the target;
E. no change is applied twice (an add of what the bridge's own last add made, a removal of
   what its last removal removed), and nothing is removed and given back within one step;
F. after a drift sweep, the ledger's holdings agree with Identity Center on managed targets;
G. every add has a basis (a user's activation with an end, in a mapping naming the target),
   and nothing is held for good.

`known` names defects not fixed yet (see KNOWN_DEFECTS in machine.py): each one switches
off the part of a check that defect breaks, so the rest stays checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bridge.model import Binding, Change, Reason
from bridge.store import Ledger
from tests.model.rig import CycleRecord, Layout, ledger_ends
from tests.model.world import IC_USERS, Instance, Op, World

TOLERANCE = timedelta(seconds=10)
NO_END: object = object()  # the ledger knows no grant for a binding


@dataclass
class Step:
    """What one step of the model did."""

    ops: list[Op]
    records: list[CycleRecord]
    layout: Layout
    targets: Mapping[str, frozenset[str]]  # mapping -> target keys, as the process resolved
    ledger: Ledger
    swept: bool  # a drift sweep ran, and nothing since could have undone its work
    recovered: bool  # a process started (and recovered) during the step
    # The target keys the bridge itself resolves now, so its sweep reads them: a mapping whose
    # name does not resolve has its targets left unread, and what the ledger holds there stays
    # as it was.
    readable: frozenset[str] = frozenset()

    def managed(self) -> frozenset[str]:
        return frozenset(k for keys in self.targets.values() for k in keys)

    def drift_removable(self) -> frozenset[str]:
        return frozenset(
            k for m in self.layout.mappings if m.drift == "remove" for k in self.targets[m.name]
        )


@dataclass
class Promise:
    world: World
    known: frozenset[str]
    # Binding the bridge made -> the latest end known while it is held (None: none).
    deadlines: dict[Binding, object] = field(default_factory=dict)
    unknown_outcome: set[Binding] = field(default_factory=set)  # AWS made it; the process died
    failed_but_applied: set[Binding] = field(default_factory=set)  # recorded failed; AWS made it

    def check(self, step: Step) -> None:
        self._track(step)
        try:
            self.no_overstay(step)
            self.no_live_basis_removed(step)
            self.brake_holds(step)
            self.nothing_foreign_removed(step)
            self.nothing_twice(step)
            self.sweep_agrees(step)
            self.every_add_has_a_basis(step)
        finally:
            present = self.world.present
            self.deadlines = {b: d for b, d in self.deadlines.items() if present.get(b) == "bridge"}

    # -- bookkeeping -----------------------------------------------------------------------

    def _track(self, step: Step) -> None:
        for o in step.ops:
            settled = o.op == "remove" and o.applied
            if settled or (o.by == "bridge" and o.op == "add" and o.outcome == "ok"):
                # Gone, or recorded by the bridge after all.
                self.unknown_outcome.discard(o.binding)
                self.failed_but_applied.discard(o.binding)
            elif o.by == "bridge" and o.op == "add" and o.applied:
                lost = self.unknown_outcome if o.outcome == "killed" else self.failed_but_applied
                lost.add(o.binding)
        ends = ledger_ends(step.ledger)
        for b, owner in self.world.present.items():
            if owner == "bridge":
                known = [self.deadlines.get(b, NO_END), ends.get(b, NO_END)]
                known += [i.end for i in self.bases(b, step) if i.end is not None]
                self.deadlines[b] = latest(known)

    def bases(self, b: Binding, step: Step) -> list[Instance]:
        """Instances, ever, that could justify `b`: its user's activations with an end, in a
        mapping that names its target."""
        groups = {m.group for m in step.layout.mappings if b.target_key in step.targets[m.name]}
        return [
            i
            for i in self.world.instances
            if i.is_basis() and i.group in groups and IC_USERS.get(i.upn) == b.ic_user_id
        ]

    def _live_basis(self, b: Binding, clock: datetime, step: Step) -> Instance | None:
        """A basis of `b` that Graph lists, readably, and that is live by the machine's
        `clock` too: the bridge can only go by its own clock (a clock off the world's time is
        the safety brake's to catch)."""
        for i in self.bases(b, step):
            listed = i.listed_at(self._true(clock)) and i.listed_at(clock)
            if listed and self.world.graph_faults.get(i.group) is None:
                return i
        return None

    def _true(self, when: datetime) -> datetime:
        return when - self.world.skew

    # -- the checks ------------------------------------------------------------------------

    def no_overstay(self, step: Step) -> None:
        """Late by the world's time and by the machine's clock: the bridge knows only its clock,
        and a clock jumping forward over an end gives it no time before the landing."""
        w = self.world
        managed = step.managed()
        late = []
        for b, owner in sorted(w.present.items()):
            end = self.deadlines.get(b)
            if owner != "bridge" or not isinstance(end, datetime):
                continue
            chance = max(w.first_chance(end), w.started_at or w.first_chance(end))
            if w.true_now() <= end + TOLERANCE or w.clock.now() <= chance + TOLERANCE:
                continue
            if "orphan_never_ends" in self.known and b.target_key not in managed:
                continue
            if "inflight_add_outlives_crash" in self.known and b in self.unknown_outcome:
                continue
            if "timed_out_add_outlives_end" in self.known and b in self.failed_but_applied:
                continue
            late.append(f"{b} ended {end.isoformat()}, still held at {w.clock.now().isoformat()}")
        assert not late, f"A: access outlived its end: {late}"

    def no_live_basis_removed(self, step: Step) -> None:
        wrong = []
        for rec in step.records:
            for c in rec.result.applied:
                basis = self._live_basis(c.binding, rec.started, step)
                if c.op != "remove" or basis is None:
                    continue
                end = rec.ends_before.get(c.binding, NO_END)
                # The ledger's end passed: an extension the bridge had not read. Passed by the
                # bridge's own now: its monotonic estimate, as its process found the wall clock.
                if isinstance(end, datetime) and end <= self._bridge_now(rec):
                    continue
                if (
                    "recovery_expires_before_read" in self.known
                    and rec.recovering
                    and rec.result.kind == "expiry"
                ):
                    continue
                wrong.append(f"{c} in a {rec.result.kind} cycle, while {basis} was live")
        assert not wrong, f"B: removed access with a live PIM basis: {wrong}"

    def brake_holds(self, step: Step) -> None:
        # A removal of what AWS no longer had took nobody's access: the brake need not hold it.
        took = {o.binding for o in step.ops if o.by == "bridge" and o.op == "remove" and o.applied}
        for rec in step.records:
            judged = [
                str(c) for c in rec.result.applied if self._judged(c, rec) and c.binding in took
            ]
            assert len(judged) <= rec.max_removals, (
                f"C: a {rec.result.kind} cycle removed {len(judged)} bindings not yet due, "
                f"over max_removals_per_cycle = {rec.max_removals}: {judged}"
            )
            braked = any(f.kind == "safety_brake" for f in rec.result.findings)
            if braked and "brake_exits_zero" not in self.known:
                assert rec.result.exit_code == 1, (
                    f"C: the safety brake held removals in a {rec.result.kind} cycle, "
                    f"which exited {rec.result.exit_code}"
                )

    def _bridge_now(self, rec: CycleRecord) -> datetime:
        """The time the bridge went by in a cycle: the wall clock, or the monotonic estimate
        since its process started, whichever is later (bridge/clockwatch.py)."""
        return max(rec.started, self._true(rec.started) + rec.start_skew)

    def _judged(self, c: Change, rec: CycleRecord) -> bool:
        """A removal the brake must count: not due by the ledger's end before the cycle."""
        if c.op != "remove":
            return False
        end = rec.ends_before.get(c.binding, NO_END)
        # A restart takes the wall clock as it is then (bridge/clockwatch.py): a jump made before
        # the process started cannot be told from the time it was down.
        if isinstance(end, datetime) and end <= self._true(rec.started) + rec.start_skew:
            return False
        ahead = isinstance(end, datetime) and end <= rec.started  # due by a clock run ahead
        if "clock_jump_unbraked" in self.known and ahead:
            return False
        moved = c.reason is Reason.EXPIRED and not ahead  # due only by the end this read gave
        return not ("moved_end_bypasses_brake" in self.known and moved)

    def nothing_foreign_removed(self, step: Step) -> None:
        allowed = step.drift_removable()
        wrong = [
            str(o)
            for o in step.ops
            if o.by == "bridge"
            and o.op == "remove"
            and o.applied
            and o.owner_before == "out-of-band"
            and o.binding.target_key not in allowed
        ]
        assert not wrong, f"D: removed what the bridge did not make: {wrong}"

    def nothing_twice(self, step: Step) -> None:
        twice = [str(o) for o in step.ops if o.redundant]
        assert not twice, f"E: a change applied twice: {twice}"
        if step.recovered and "recovery_expires_before_read" in self.known:
            return
        removed: set[Binding] = set()
        flips = []
        for o in step.ops:
            if o.by != "bridge" or o.outcome != "ok":
                continue
            if o.op == "remove" and o.applied:
                removed.add(o.binding)
            elif o.op == "add" and o.binding in removed:
                flips.append(str(o.binding))
        assert not flips, f"E: removed and given back within one step: {flips}"

    def sweep_agrees(self, step: Step) -> None:
        if not step.swept:
            return
        held = set(step.ledger.holdings())
        managed = step.managed()
        # A call that failed, perhaps after taking effect, is settled by the next cycle.
        unsettled = {o.binding for o in step.ops if o.by == "bridge" and o.outcome == "error"}
        present = self.world.present
        # A target the bridge cannot resolve now is not read by its sweep: nothing there is
        # settled, neither an unconfirmed creation nor a holding removed out of band.
        unread = {b for b in held if b.target_key not in step.readable}
        lies = sorted(
            b for b in held - unsettled - unread if b.target_key in managed and b not in present
        )
        assert not lies, f"F: after a drift sweep the ledger holds what AWS lacks: {lies}"
        forgotten = {
            b
            for b, owner in present.items()
            if owner == "bridge" and b.target_key in managed and b not in held
        } - unsettled
        if "inflight_add_outlives_crash" in self.known:
            forgotten -= self.unknown_outcome
        if "timed_out_add_outlives_end" in self.known:
            forgotten -= self.failed_but_applied
        assert not forgotten, (
            f"F: after a drift sweep AWS has what the bridge made and its ledger forgot: "
            f"{sorted(forgotten)}"
        )

    def every_add_has_a_basis(self, step: Step) -> None:
        baseless = [
            str(o)
            for o in step.ops
            if o.by == "bridge" and o.op == "add" and o.outcome == "ok"
            if not self.bases(o.binding, step)
        ]
        assert not baseless, f"G: granted with no user activation behind it: {baseless}"
        ends = ledger_ends(step.ledger)
        endless = sorted(b for b in step.ledger.holdings() if ends.get(b, NO_END) is None)
        assert not endless, f"G: held for good, with no end: {endless}"


def latest(ends: Iterable[object]) -> object:
    """The latest of the known ends; None when one of them is none (held for good)."""
    known = [e for e in ends if e is not NO_END]
    if not known:
        return NO_END
    if any(e is None for e in known):
        return None
    return max(known)  # type: ignore[type-var]
