"""The bridge's parts, built the way production wires them (bridge/wiring.py), against the
in-memory world of tests/model/world.py. `build_process` is the one place that calls the parts'
constructors: when a signature changes, only it changes.

A `Process` is one `pim-bridge run`: its own reconciler, revoker, service and timers, and its
hold on the SQLite ledger file. Killing one and building the next on the same file is a restart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bridge.clockwatch import ClockWatch
from bridge.config import Config, config_from_dict
from bridge.denial.writer import Revoker
from bridge.leader import election_for
from bridge.model import AccountAssignment, Binding, GroupMembership
from bridge.ports import Election
from bridge.reconcile import CycleResult, Reconciler
from bridge.revoke import SessionDenial
from bridge.schema import grants
from bridge.service import Service
from bridge.store import Ledger
from bridge.wiring import Bridge
from tests.fakes import VirtualTimers
from tests.model.world import PERMISSION_SETS, GraphView, IdentityCenterView, Life, World

Ends = dict[Binding, datetime | None]  # binding -> the latest end the ledger knows; None: none


@dataclass(frozen=True)
class MappingSpec:
    name: str
    group: str  # Entra group id
    ic_group: str = ""  # Identity Center group name
    assignments: tuple[tuple[str, str], ...] = ()  # (account id, permission set name)
    drift: str = "report"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "entra_group_id": self.group, "drift": self.drift}
        if self.ic_group:
            out["identity_center_group"] = self.ic_group
        out["assignments"] = [{"account_id": a, "permission_set": p} for a, p in self.assignments]
        return out


@dataclass(frozen=True)
class Layout:
    """The config file's mappings and safety limit: what config edits change."""

    mappings: tuple[MappingSpec, ...]
    max_removals: int = 50

    def mapping(self, name: str) -> MappingSpec | None:
        return next((m for m in self.mappings if m.name == name), None)

    def edit(self, mapping: str, **changes: Any) -> Layout:
        return replace(
            self,
            mappings=tuple(
                replace(m, **changes) if m.name == mapping else m for m in self.mappings
            ),
        )

    def targets(self, world: World) -> dict[str, frozenset[str]]:
        """Mapping -> target keys, resolved against the world now, independently of the
        bridge's own resolution (a name that does not resolve names nothing)."""
        out: dict[str, frozenset[str]] = {}
        for m in self.mappings:
            gid = world.resolve_group(m.ic_group) if m.ic_group else None
            keys = {GroupMembership(gid).key} if gid else set()
            keys |= {AccountAssignment(a, PERMISSION_SETS[p]).key for a, p in m.assignments}
            out[m.name] = frozenset(keys)
        return out

    def data(self, store_url: str) -> dict[str, Any]:
        return {
            "aws": {"identity_store_id": "d-1", "instance_arn": "arn:aws:sso:::instance/ssoins-1"},
            "store": {"url": store_url},
            "safety": {"max_removals_per_cycle": self.max_removals},
            "revocation": {"deny_stale_sessions": True},
            "mappings": [m.as_dict() for m in self.mappings],
        }

    def config(self, store_url: str) -> Config:
        return config_from_dict(self.data(store_url), {})

    def toml(self, store_url: str) -> str:
        """The same config as a file, for the CLI. JSON strings are valid TOML basic strings."""
        lines: list[str] = []
        data = self.data(store_url)
        for section in ("aws", "store", "safety", "revocation"):
            lines.append(f"[{section}]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in data[section].items()]
        for m in data["mappings"]:
            lines.append("[[mappings]]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in m.items() if k != "assignments"]
            for a in m["assignments"]:
                lines.append("[[mappings.assignments]]")
                lines += [f"{k} = {json.dumps(v)}" for k, v in a.items()]
        return "\n".join(lines) + "\n"


@dataclass
class CycleRecord:
    """One cycle the service ran: when, what the ledger held before it, and its result."""

    started: datetime  # the machine's clock
    ends_before: Ends  # the ends the ledger would expire each binding at, before the cycle
    result: CycleResult
    max_removals: int
    recovering: bool = False  # run by `Service.recover` as a process started
    # How far the wall clock was off when the process started: to the process that is no jump
    # (its ClockWatch anchors there), only time having passed.
    start_skew: timedelta = timedelta(0)


class RecordingService(Service):
    """The real Service, keeping every cycle's result and the ledger's ends before it (the
    timers call `self.expire`, so expiries they fire are recorded too)."""

    def __init__(
        self,
        bridge: Bridge,
        timers: VirtualTimers,
        election: Election | None,
        records: list[CycleRecord],
    ) -> None:
        super().__init__(bridge, timers, election)
        self.records = records
        self.start_skew = timedelta(0)

    def poll(self, *, read_aws: bool = False) -> CycleResult | None:
        return self._recorded(lambda: super(RecordingService, self).poll(read_aws=read_aws))

    def expire(self) -> CycleResult | None:
        return self._recorded(super().expire)

    def _recorded(self, run: Callable[[], CycleResult | None]) -> CycleResult | None:
        started, before = self.bridge.clock.now(), ledger_ends(self.bridge.ledger, due=True)
        result = run()
        if result is not None:
            limit = self.bridge.config.safety.max_removals_per_cycle
            self.records.append(
                CycleRecord(started, before, result, limit, start_skew=self.start_skew)
            )
        return result


@dataclass
class Process:
    life: Life
    bridge: Bridge
    service: RecordingService
    timers: VirtualTimers
    election: Election | None
    down: bool = False  # failed to start (a name did not resolve): applies nothing
    recovered: list[str] = field(default_factory=list)

    @property
    def ledger(self) -> Ledger:
        return self.bridge.ledger

    def settle(self) -> None:
        """Run the timers already due, as the scheduler does at once for a past date."""
        self.timers.advance_to(self.bridge.clock.now())

    def close(self) -> None:
        self.life.dead = True
        if self.election is not None:
            self.election.release()
        self.bridge.close()


def build_process(
    world: World,
    layout: Layout,
    store_url: str,
    *,
    elect: bool = True,
    records: list[CycleRecord] | None = None,
) -> Process:
    """One bridge process against `world`, wired as `bridge.wiring.build` wires production:
    reconciler, revoker on removals and arming, service with its expiry timers (virtual here).
    `elect`: take the SQLite ledger's single-replica lock, as `pim-bridge run` does; `records`
    receives every cycle the service runs.

    The ledger file is a copy of one migrated once per session, so it is opened unmigrated;
    one worker keeps the order of Identity Center calls, and so each example, reproducible."""
    config = layout.config(store_url)
    life = Life()
    graph, ic = GraphView(world, life), IdentityCenterView(world, life)
    election = election_for(store_url) if elect else None
    ledger = Ledger(store_url, migrate=False)
    revoker = Revoker(ic, ic.group_assignments, ledger, world.clock)
    watch = ClockWatch(world.clock)
    denial = SessionDenial(
        revoker.deny,
        revoker.arm,
        ledger.ends_within,
        watch.bounding(),
        sleep=world.sleep,
        beside=in_sequence,
    )
    reconciler = Reconciler(
        config, graph, ic, ledger, world.clock, denial=denial, watch=watch, workers=1
    )
    bridge = Bridge(config, graph, ic, ledger, world.clock, reconciler, revoker)  # type: ignore[arg-type]
    timers = VirtualTimers(world.clock)
    service = RecordingService(bridge, timers, election, [] if records is None else records)
    service.start_skew = world.skew
    return Process(life, bridge, service, timers, election)


def in_sequence(work: Callable[[], None]) -> Callable[[], None]:
    """A removal's denial before the removal, in the caller's thread: production runs the two
    side by side, and the order they interleave in would make an example's outcome depend on
    the scheduler. Denying first is the order in which a removal is safe soonest."""
    work()
    return lambda: None


def ledger_ends(ledger: Ledger, *, due: bool = False) -> Ends:
    """Per binding, the latest end of its grants, live or ended (None: one has none). `due`:
    of its live grants only, when it has one: the end the ledger will expire it at."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            select(grants.c.ic_user_id, grants.c.target_key, grants.c.not_after, grants.c.state)
        ).all()
    live = {Binding.of(r[0], r[1]) for r in rows if r[3] == "live"}
    out: Ends = {}
    for user, key, end, state in rows:
        b = Binding.of(user, key)
        if due and b in live and state != "live":
            continue
        end = _utc(end)
        if b in out and (out[b] is None or end is None):
            out[b] = None
            continue
        out[b] = end if b not in out else max(end, out[b])  # type: ignore[type-var]
    return out


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands datetimes back naive; the ledger stores UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)
