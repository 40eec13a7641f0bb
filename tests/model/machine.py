"""The bridge's one promise, checked by a model: no access the bridge granted outlives its PIM end,
and it never removes what it does not own.

Hypothesis drives the real Reconciler, Revoker, Ledger (an SQLite file) and Service with its
expiry timers on a virtual clock (tests/model/rig.py), against the in-memory world of
tests/model/world.py: activations, deactivations, extensions, Graph outages and bad pages,
Identity Center throttling, failures and slow requests, processes killed between intent and
outcome, wall-clock jumps, renamed groups, config edits, members added and removed out of band.
After every step, tests/model/promise.py checks the promise.

KNOWN_DEFECTS lists defects not fixed yet: each name switches off the rule that provokes it, or
the part of a check it breaks. Once a fix lands, remove its name here (and the xfail mark of
its test in test_regressions.py) to have it checked again.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from unittest import mock

from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from bridge import cli
from bridge.errors import ConfigError
from bridge.model import Binding
from tests.fakes import FakeClock
from tests.model.promise import Promise, Step
from tests.model.rig import CycleRecord, Layout, MappingSpec, Process, build_process
from tests.model.world import (
    ACCOUNTS,
    ENTRA_USERS,
    GROUP_NAMES,
    IC_USERS,
    Instance,
    ProcessKilled,
    World,
    all_targets,
)

KNOWN_DEFECTS: frozenset[str] = frozenset(
    {
        # D: a binding the bridge made, removed out of band and added back out of band before a
        # drift sweep saw it gone, is still the bridge's to the ledger and is removed at its end.
        "readd_over_a_held_binding",
    }
)
# Fixed, each with its shrunk example in test_regressions.py: orphan_never_ends,
# brake_exits_zero, inflight_add_outlives_crash, timed_out_add_outlives_end,
# renamed_group_stops_expiries, moved_end_bypasses_brake, clock_jump_unbraked,
# recovery_expires_before_read, endless_activation_permanent, duplicate_instance_flips (one
# principal or two under one id), untyped_principal_granted, second_writer_on_sqlite,
# refused_retry_forgets_a_timed_out_add, braked_removal_of_a_gone_binding.

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MAX_FAULTS = 3  # queued Identity Center faults: retries every 2 s clear them within TOLERANCE
# Config edits (and plain restarts) per example: each starts a process on a fresh SQLAlchemy
# engine, whose statements compile anew; a few per example find what many would, faster.
MAX_EDITS = 2
# Each example's ledger lives in memory-backed storage when there is some: SQLite's commits and
# closes on a disk cost more than the rest of a step.
SCRATCH = "/dev/shm" if Path("/dev/shm").is_dir() else None

POLL_INTERVAL = 15  # seconds: the poll when watch_interval = "0" (the model drives no watcher)

USERS = st.sampled_from(ENTRA_USERS)
GROUPS = st.sampled_from(["eg-1", "eg-2", "eg-3"])
MINUTES = st.sampled_from([0.5, 1, 5, 60])
DRIFT = st.sampled_from(["report", "remove"])
PICK = st.integers(0, 20)  # an index into whatever the rule picks from, modulo its length
# Odd activations, each provoking a known defect while it is listed.
ODD = {
    "without_end": "endless_activation_permanent",
    "reusing_an_instance_id": "duplicate_instance_flips",
    "of_an_untyped_principal": "untyped_principal_granted",
}
EDITS = (
    "add_mapping",
    "remove_mapping",
    "rename_mapping",
    "drop_an_account",
    "change_identity_center_group",
    "set_drift",
    "lower_max_removals",
    "restart",
)


def initial_layout(admins_drift: str, readers_drift: str, shared: bool) -> Layout:
    return Layout(
        (
            MappingSpec("admins", "eg-1", "Admins", ((ACCOUNTS[0], "AdminAccess"),), admins_drift),
            MappingSpec(
                "readers",
                "eg-2",
                "Admins" if shared else "",
                ((ACCOUNTS[0], "ReadOnly"), (ACCOUNTS[1], "ReadOnly")),
                readers_drift,
            ),
        )
    )


class BridgeMachine(RuleBasedStateMachine):
    def __init__(self, template: Path, known: Iterable[str] = KNOWN_DEFECTS) -> None:
        super().__init__()
        self.known = frozenset(known)
        self.dir = Path(tempfile.mkdtemp(prefix="pim-model-", dir=SCRATCH))
        shutil.copy(template, self.dir / "ledger.db")
        self.url = f"sqlite:///{self.dir / 'ledger.db'}"
        self.world = World(FakeClock(T0))
        self.promise = Promise(self.world, self.known)
        self.layout = initial_layout("report", "report", False)
        self.records: list[CycleRecord] = []
        self.proc: Process | None = None
        self.targets: dict[str, frozenset[str]] = {}  # mapping -> keys, as the process resolved
        # Every resolution in effect during the step: a process killed in it granted by its own.
        self.step_targets: dict[str, frozenset[str]] = {}
        self.edits = 0
        self.downtimes: list[int] = []  # after each kill to come, how long the service stays down
        self._step_reset()

    def _step_reset(self) -> None:
        self.step_targets = dict(self.targets)
        self.step_ops = len(self.world.ops)
        self.step_records = len(self.records)
        self.swept = False
        self.recovered = False

    def teardown(self) -> None:
        if self.proc is not None:
            self.proc.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- processes ---------------------------------------------------------------------------

    @property
    def process(self) -> Process:
        assert self.proc is not None
        return self.proc

    def _start(self) -> None:
        """Start a process on the ledger as `pim-bridge run` does (lead, which recovers), again
        while one is killed on the way."""
        for _ in range(2 * MAX_FAULTS + 2):
            # A process killed as it starts is down until the next: its tolerance starts then.
            self.world.started_at = self.world.clock.now()
            self._resolved_as(self.layout.targets(self.world), widen=False)
            self.proc = build_process(self.world, self.layout, self.url, records=self.records)
            self.recovered = True
            first = len(self.records)
            try:
                self.proc.service.lead()
                self.proc.settle()
            except ProcessKilled:
                self.proc.close()
                self.world.clock.advance(self._downtime())
                continue
            except ConfigError:
                self.proc.down = True  # as `run` exits on a config error, and is restarted
                return
            finally:
                for rec in self.records[first:]:
                    rec.recovering = True
            self.swept = any(r.result.kind == "drift" for r in self.records[first:])
            return
        raise AssertionError("the process was killed on every start")

    def _restart(self, down_for: float = 0) -> None:
        self.process.close()
        self.swept = False
        self.world.clock.advance(down_for)
        self._start()

    def _downtime(self) -> float:
        return self.downtimes.pop(0) if self.downtimes else 0

    def _killed(self) -> None:
        self._restart(self._downtime())

    def _drive(self, call: Callable[[Process], object]) -> None:
        """Run `call` on the live process; a kill restarts it on the same ledger."""
        if self.process.down:
            self._restart()
            if self.process.down:
                return
        try:
            call(self.process)
            self.process.settle()
        except ProcessKilled:
            self._killed()

    def _advance_to(self, until: datetime) -> None:
        """Move the clock, running each timer at its time; a kill on the way restarts."""
        for _ in range(2 * MAX_FAULTS + 2):
            if self.process.down:
                self._restart()
            if self.process.down:
                break
            try:
                self.process.timers.advance_to(until)
                return
            except ProcessKilled:
                self._killed()
        if self.world.clock.now() < until:
            self.world.clock.set(until)

    # -- setup -------------------------------------------------------------------------------

    @initialize(
        admins_drift=DRIFT,
        readers_drift=DRIFT,
        shared=st.booleans(),
        granted=st.lists(st.tuples(USERS, GROUPS, MINUTES), max_size=3),
    )
    def start(
        self,
        admins_drift: str,
        readers_drift: str,
        shared: bool,
        granted: list[tuple[str, str, float]],
    ) -> None:
        """The service starts on a world where some users already activated."""
        self.layout = initial_layout(admins_drift, readers_drift, shared)
        for user, group, minutes in granted:
            self._activate(user, group, minutes)
        self._start()

    # -- PIM ---------------------------------------------------------------------------------

    def _activate(self, user: str, group: str, minutes: float, **odd: object) -> None:
        now = self.world.true_now()
        inst = Instance(
            f"i{len(self.world.instances)}", group, user, now, now + timedelta(minutes=minutes)
        )
        for k, v in odd.items():
            setattr(inst, k, v)
        self.world.instances.append(inst)

    def _live(self) -> list[Instance]:
        now = self.world.true_now()
        return [i for i in self.world.instances if i.listed_at(now) and i.end is not None]

    @rule(user=USERS, group=GROUPS, minutes=MINUTES)
    def activate(self, user: str, group: str, minutes: float) -> None:
        self._activate(user, group, minutes)

    @precondition(lambda self: any(d not in self.known for d in ODD.values()))
    @rule(how=st.sampled_from(sorted(ODD)), user=USERS, group=GROUPS, pick=PICK)
    def activate_oddly(self, how: str, user: str, group: str, pick: int) -> None:
        if ODD[how] in self.known:
            self._activate(user, group, 5)
        elif how == "without_end":
            self._activate(user, group, 5, end=None)
        elif how == "of_an_untyped_principal":
            self._activate(user, group, 5, typed=False)
        elif self.world.instances:
            other = self.world.instances[pick % len(self.world.instances)]
            self._activate(user, other.group, 5, id=other.id)

    @precondition(lambda self: bool(self._live()))
    @rule(pick=PICK)
    def deactivate(self, pick: int) -> None:
        live = self._live()
        live[pick % len(live)].deactivated = True

    @precondition(lambda self: bool(self._live()))
    @rule(pick=PICK, minutes=MINUTES)
    def extend(self, pick: int, minutes: float) -> None:
        live = self._live()
        inst = live[pick % len(live)]
        inst.end = inst.end + timedelta(minutes=minutes)  # type: ignore[operator]

    @precondition(lambda self: bool(self._live()))
    @rule(pick=PICK)
    def shorten(self, pick: int) -> None:
        """An administrator moves an end earlier, still in the future."""
        now = self.world.true_now()
        live = self._live()
        inst = live[pick % len(live)]
        inst.end = now + (inst.end - now) / 2  # type: ignore[operator]

    # -- Graph -------------------------------------------------------------------------------

    @rule(group=GROUPS, fault=st.sampled_from(["HTTP 429", "HTTP 503", "malformed", "stale_ends"]))
    def graph_fault(self, group: str, fault: str) -> None:
        self.world.graph_faults[group] = fault  # type: ignore[assignment]

    @precondition(lambda self: bool(self.world.graph_faults))
    @rule(pick=PICK)
    def graph_recovers(self, pick: int) -> None:
        faulty = sorted(self.world.graph_faults)
        del self.world.graph_faults[faulty[pick % len(faulty)]]

    # -- Identity Center ---------------------------------------------------------------------

    @precondition(lambda self: len(self.world.ic_faults) < MAX_FAULTS)
    @rule(fault=st.sampled_from(["throttled", "conflict", "failed", "slow", "timed_out_applied"]))
    def identity_center_fault(self, fault: str) -> None:
        """The next add or remove meets this."""
        self.world.ic_faults.append(fault)  # type: ignore[arg-type]

    @precondition(lambda self: len(self.world.ic_faults) < MAX_FAULTS)
    @rule(when=st.sampled_from(["before", "after"]), down_for=st.sampled_from([0, 10, 60]))
    def killed_at_the_next_write(self, when: str, down_for: int) -> None:
        """The process dies at the next add or remove, before or right after Identity Center
        applies it (the intent written, no outcome), and is started again `down_for` seconds
        later."""
        self.world.ic_faults.append(f"killed_{when}")  # type: ignore[arg-type]
        self.downtimes.append(down_for)

    @precondition(lambda self: "renamed_group_stops_expiries" not in self.known)
    @rule(gid=st.sampled_from(sorted(GROUP_NAMES)))
    def rename_identity_center_group(self, gid: str) -> None:
        name = self.world.group_names[gid]
        self.world.group_names[gid] = name[:-8] if name.endswith("-renamed") else name + "-renamed"
        # Until its next drift sweep reads the names again, the bridge may grant by the name as
        # it resolved it or, for a mapping it could not resolve, as it resolves now.
        self._resolved_as(self.layout.targets(self.world), widen=True)

    def _resolved_as(self, now: dict[str, frozenset[str]], *, widen: bool) -> None:
        """Where the bridge may grant from now on (`widen`: as well as where it might before)."""
        if widen:
            now = {m: keys | now.get(m, frozenset()) for m, keys in self.targets.items()}
        self.targets = now
        self.step_targets = {
            m: keys | self.step_targets.get(m, frozenset()) for m, keys in now.items()
        }

    @rule(user=st.sampled_from(sorted(IC_USERS.values())), pick=PICK)
    def member_added_out_of_band(self, user: str, pick: int) -> None:
        targets = all_targets()
        binding = Binding(user, targets[pick % len(targets)])
        if "readd_over_a_held_binding" in self.known and self._still_held(binding):
            return
        self.world.apply("add", binding, "out-of-band")

    def _still_held(self, binding: Binding) -> bool:
        """The ledger still holds it: removed out of band and not yet seen so by a drift sweep."""
        return self.proc is not None and binding in self.proc.ledger.holdings()

    @precondition(lambda self: bool(self.world.present))
    @rule(pick=PICK)
    def member_removed_out_of_band(self, pick: int) -> None:
        present = sorted(self.world.present)
        self.world.apply("remove", present[pick % len(present)], "out-of-band")

    # -- clocks ------------------------------------------------------------------------------

    @rule(seconds=st.sampled_from([1, 5, 15, 60, 600, 3600]))
    def time_passes(self, seconds: int) -> None:
        """A poll interval or more: the service polls (once: what more polls would see, the
        explicit poll and drift_sweep steps show)."""
        until = self.world.clock.now() + timedelta(seconds=seconds)
        if seconds >= POLL_INTERVAL:
            self._drive(lambda p: p.service.poll())
        self._advance_to(until)

    def _ends_ahead(self) -> list[datetime]:
        now = self.world.clock.now()
        ends = {i.end + self.world.skew for i in self.world.instances if i.end is not None}
        if self.proc is not None:
            ends |= set(self.proc.timers.pending().values())
        return sorted(e for e in ends if e > now)

    @precondition(lambda self: bool(self._ends_ahead()))
    @rule(pick=PICK, offset=st.sampled_from([-1.0, -0.001, 0.0, 0.001, 1.0, 11.0]))
    def time_passes_to_an_end(self, pick: int, offset: float) -> None:
        """To just before, at, or just after an end (by PIM or by a pending timer)."""
        ends = self._ends_ahead()
        target = ends[pick % len(ends)] + timedelta(seconds=offset)
        self._advance_to(max(target, self.world.clock.now()))

    @rule(seconds=st.sampled_from([-3600, -60, 60, 3600, 86400]))
    def wall_clock_jumps(self, seconds: int) -> None:
        self.world.jump(timedelta(seconds=seconds))
        self._drive(lambda p: None)  # the scheduler runs what is now due

    # -- config edits, each taking effect as the service restarts ---------------------------

    @precondition(lambda self: self.edits < MAX_EDITS)
    @rule(
        edit=st.sampled_from(EDITS),
        pick=PICK,
        drift=DRIFT,
        group=st.sampled_from(["Admins", "Ops"]),
        limit=st.sampled_from([0, 1, 2]),
    )
    def edit_config(self, edit: str, pick: int, drift: str, group: str, limit: int) -> None:
        """`pick` chooses the mapping; `drift`, `group` and `limit` are the new values for the
        edits that take one."""
        self.edits += 1
        lay = self.layout
        m = lay.mappings[pick % len(lay.mappings)]
        if edit == "add_mapping" and all(x.group != "eg-3" for x in lay.mappings):
            name = "ops-v2" if lay.mapping("ops") else "ops"
            lay = Layout(
                (*lay.mappings, MappingSpec(name, "eg-3", group, (), drift)), lay.max_removals
            )
        elif edit == "remove_mapping" and len(lay.mappings) > 1:
            lay = Layout(tuple(x for x in lay.mappings if x is not m), lay.max_removals)
        elif edit == "rename_mapping":
            lay = lay.edit(m.name, name=m.name[:-3] if m.name.endswith("-v2") else m.name + "-v2")
        elif edit == "drop_an_account" and m.assignments and (m.ic_group or len(m.assignments) > 1):
            lay = lay.edit(m.name, assignments=m.assignments[:-1])
        elif edit == "change_identity_center_group":
            lay = lay.edit(m.name, ic_group=group)
        elif edit == "set_drift":
            lay = lay.edit(m.name, drift=drift)
        elif edit == "lower_max_removals":
            lay = Layout(lay.mappings, limit)
        self.layout = lay
        self._restart()

    @precondition(lambda self: self.edits < MAX_EDITS)
    @rule(seconds=st.sampled_from([60, 600, 3600]))
    def service_down_for(self, seconds: int) -> None:
        """The service is stopped (a deploy, a lost node) while time passes, then started."""
        self.edits += 1
        self.process.close()
        self.world.clock.advance(seconds)
        self._start()

    # -- the service -------------------------------------------------------------------------

    @rule()
    def poll(self) -> None:
        self._drive(lambda p: p.service.poll())

    @rule()
    def drift_sweep(self) -> None:
        def sweep(p: Process) -> None:
            if p.service.poll(read_aws=True) is not None:
                self.swept = True

        self._drive(sweep)

    @precondition(lambda self: "second_writer_on_sqlite" not in self.known)
    @rule()
    def sync_beside_the_service(self) -> None:
        before = len(self.world.ops)
        code = run_sync_beside(self.world, self.layout, self.url, self.dir)
        made = [str(o) for o in self.world.ops[before:] if o.by == "bridge"]
        assert code == cli.EXIT_CONFIG and not made, (
            f"`pim-bridge sync` beside `run` on one SQLite file exited {code} and applied {made}"
        )

    # -- the promise -------------------------------------------------------------------------

    def _readable(self) -> frozenset[str]:
        return self.process.bridge.reconciler.scope().managed

    @invariant()
    def keeps_its_promise(self) -> None:
        if self.proc is None:
            return
        step = Step(
            ops=self.world.ops[self.step_ops :],
            records=self.records[self.step_records :],
            layout=self.layout,
            targets=self.step_targets,
            ledger=self.process.ledger,
            swept=self.swept and not self.process.down,
            recovered=self.recovered,
            readable=frozenset()
            if self.process.down
            else self.process.bridge.reconciler.scope().managed,
        )
        try:
            self.promise.check(step)
        finally:
            if step.swept:
                self.targets = self.layout.targets(self.world)  # as the sweep read the names
            self._step_reset()


def run_sync_beside(world: World, layout: Layout, url: str, where: Path) -> int:
    """`pim-bridge sync`, as a second process on the ledger the service holds: the CLI itself,
    its `build` handing it a bridge on the same world."""
    path = where / "sync.toml"
    path.write_text(layout.toml(url), encoding="utf-8")
    second = build_process(world, layout, url, elect=False)
    try:
        with (
            mock.patch("bridge.wiring.build", lambda config, clock=None: second.bridge),
            redirect_stdout(StringIO()),
        ):
            return cli.main(["sync", "-c", str(path)])
    finally:
        second.close()
