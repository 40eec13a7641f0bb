"""The fault suite's rig: the real bridge (GraphPimSource over HTTP to the Graph sandbox,
AwsIdentityCenter through boto3 to moto's server, a SQLite or PostgreSQL ledger, the Service
with its expiry timers) on a virtual clock that the Graph sandbox shares, so "no grant lives
more than 2 s past its end" is measured in the bridge's own time and never depends on how busy
the machine is. Real-time scenarios (a `pim-bridge run` killed with SIGKILL) live in their own
modules with their own, generous bounds.

Every scenario ends with the three checks in `tests/faults/invariants.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.clockwatch import ClockWatch
from bridge.config import Config, config_from_dict
from bridge.denial.writer import Revoker
from bridge.graph.source import GraphPimSource
from bridge.identity_center import AwsIdentityCenter, Backoff
from bridge.model import AccountAssignment, Binding, GroupMembership, Target
from bridge.ports import Clock
from bridge.reconcile import CycleResult, Reconciler
from bridge.revoke import SessionDenial
from bridge.sandbox.world import World, running_world
from bridge.service import Service
from bridge.store import Ledger
from bridge.wiring import Bridge
from tests.fakes import FakeClock, VirtualTimers
from tests.faults.invariants import check_all
from tests.ha.conftest import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]  # PostgreSQL for the leader scenarios, as in tests/ha

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
# Retries and polls in milliseconds: a scenario takes seconds, not minutes.
FAST_BACKOFF = Backoff(base=0.02, cap=0.2, attempts=8)


class SkewedClock:
    """Graph's clock: the bridge's virtual clock plus a fixed offset (ahead or behind)."""

    def __init__(self, base: Clock, offset: timedelta) -> None:
        self.base, self.offset = base, offset

    def now(self) -> datetime:
        return self.base.now() + self.offset

    def monotonic(self) -> float:
        return self.base.monotonic()


@dataclass
class Rig:
    """One bridge process on a virtual clock, against a running sandbox world."""

    world: World
    clock: FakeClock
    config: Config
    bridge: Bridge
    service: Service
    timers: VirtualTimers
    foreign: set[tuple[str, str]] = field(default_factory=set)  # (who, target key) not ours

    # -- the world, as people see it ------------------------------------------------------

    def activate(self, who: str, mapping: str = "prod-admin", length: timedelta = HOUR) -> datetime:
        """Activate through Graph (as the user would); returns the end by Graph's clock."""
        actor = self.world.graph.actor()
        try:
            actor.activate(
                self.world.entra_users[who], self.world.entra_groups[mapping], length, "work"
            )
        finally:
            actor.close()
        return self.world.graph.tenant.clock.now() + length

    def deactivate(self, who: str, mapping: str = "prod-admin") -> None:
        actor = self.world.graph.actor()
        try:
            actor.deactivate(self.world.entra_users[who], self.world.entra_groups[mapping])
        finally:
            actor.close()

    def poll(self) -> CycleResult | None:
        return self.service.poll()

    def drift(self) -> CycleResult | None:
        return self.service.poll(read_aws=True)

    def advance_to(self, when: datetime) -> None:
        """Move the virtual clock, running each expiry (and retry) timer at its own second."""
        self.timers.advance_to(when)

    def advance(self, seconds: float) -> None:
        self.advance_to(self.clock.now() + timedelta(seconds=seconds))

    def name_of(self, ic_user_id: str) -> str:
        return {v: k for k, v in self.world.ic_users.items()}.get(ic_user_id, ic_user_id)

    def members(self) -> set[str]:
        return {self.name_of(u) for u in self.world.ic_members()}

    def assigned(self) -> set[str]:
        return {self.name_of(u) for u in self.world.ic_assigned()}

    # -- what Identity Center holds on the managed targets, read back through boto3 -------

    def managed_targets(self) -> list[Target]:
        seen: dict[str, Target] = {}
        for ts in self.bridge.reconciler.targets().values():
            for t in ts:
                seen[t.key] = t
        return list(seen.values())

    def aws_bindings(self) -> set[Binding]:
        out: set[Binding] = set()
        for t in self.managed_targets():
            if isinstance(t, GroupMembership):
                users = set(self.world.aws.members(t.group_id))
            else:
                assert isinstance(t, AccountAssignment)
                users = {
                    pid
                    for kind, pid in self.world.aws.assignments(t.account_id, t.permission_set_arn)
                    if kind == "USER"
                }
            out |= {Binding(u, t) for u in users}
        return out

    def group_key(self) -> str:
        return GroupMembership(self.world.ic_group_id).key

    def assignment_key(self) -> str:
        from bridge.sandbox.world import ACCOUNT_PROD

        return AccountAssignment(ACCOUNT_PROD, self.world.permission_set_arn).key

    def check(self, *, foreign: Iterable[Binding] = ()) -> int:
        """The three promises (tests/faults/invariants.py), at the virtual clock's now."""
        return check_all(
            self.bridge.ledger.engine,
            self.aws_bindings(),
            self.clock.now(),
            drift_remove=self.bridge.reconciler.scope().drift_remove,
            foreign=foreign,
        )

    def removals(self) -> list[dict[str, Any]]:
        return [c for c in self.bridge.ledger.changes_since(T0 - HOUR) if c["op"] == "remove"]

    def close(self) -> None:
        self.bridge.close()


def fault_config(
    world: World,
    store_url: str,
    *,
    drift: str = "report",
    max_removals: int = 50,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> Config:
    data = world.config_dict(store_url)
    for m in data["mappings"]:
        m["drift"] = drift
    data["safety"] = {"max_removals_per_cycle": max_removals}
    data["revocation"] = {"deny_stale_sessions": True}
    if edit is not None:
        edit(data)
    return config_from_dict(data, {})


def build_rig(
    world: World,
    store_url: str,
    clock: FakeClock,
    *,
    source_options: dict[str, Any] | None = None,
    ic_options: dict[str, Any] | None = None,
    wrap_ic: Callable[[AwsIdentityCenter], Any] | None = None,
    **config: Any,
) -> Rig:
    """The production wiring of `bridge.wiring.build`, with test-speed knobs: short Graph
    retries and deadline, fast AWS request polling and backoff, a virtual clock and timers."""
    cfg = fault_config(world, store_url, **config)
    options: dict[str, Any] = {"max_retries": 3, "backoff": 0.05, "deadline": 3.0}
    source = GraphPimSource(cfg.entra, **(options | (source_options or {})))
    ic_knobs: dict[str, Any] = {"poll_interval": 0.02, "backoff": FAST_BACKOFF}
    real_ic = AwsIdentityCenter(cfg.aws, **(ic_knobs | (ic_options or {})))
    port = wrap_ic(real_ic) if wrap_ic is not None else real_ic
    ledger = Ledger(cfg.store.url)
    revoker = Revoker(real_ic, real_ic.group_assignments, ledger, clock, None)
    watch = ClockWatch(clock)
    denial = SessionDenial(revoker.deny, None, ledger.ends_within, watch.bounding())
    reconciler = Reconciler(cfg, source, port, ledger, clock, denial=denial, watch=watch)
    bridge = Bridge(cfg, source, real_ic, ledger, clock, reconciler, revoker)
    timers = VirtualTimers(clock)
    return Rig(world, clock, cfg, bridge, Service(bridge, timers), timers)


@pytest.fixture
def world_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[World], None]:
    """Point boto3 and the static Graph credential at a world, and nowhere else."""

    def apply(world: World) -> None:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN"):
            monkeypatch.delenv(name, raising=False)
        for name, value in world.env().items():
            monkeypatch.setenv(name, value)

    return apply


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def world(clock: FakeClock, world_env: Callable[[World], None]) -> Iterator[World]:
    """A seeded tenant whose Graph sandbox runs on the rig's virtual clock."""
    with running_world(graph_clock=clock) as w:
        world_env(w)
        yield w


RigFactory = Callable[..., Rig]


@pytest.fixture
def make_rig(world: World, clock: FakeClock, tmp_path: Path) -> Iterator[RigFactory]:
    made: list[Rig] = []

    def make(**kwargs: Any) -> Rig:
        url = kwargs.pop("store_url", f"sqlite:///{tmp_path / 'ledger.db'}")
        rig = build_rig(world, url, clock, **kwargs)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()


@pytest.fixture
def rig(make_rig: RigFactory) -> Rig:
    return make_rig()
