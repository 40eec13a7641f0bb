"""`pim-bridge run` replicas on one PostgreSQL, the leader killed with SIGKILL while an AWS
call is in flight (the sandbox's async delay holds it there): first mid-cycle, then its
successor mid-expiry. The next leader marks the cut-off intent 'interrupted', re-plans, applies
nothing twice, and the expiry still lands within seconds of the end. Real time: the bounds are
generous (a takeover, plus the sandbox's own asynchronous delay) but would catch a lost expiry.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, select

from bridge.model import AccountAssignment, Binding, GroupMembership
from bridge.sandbox.world import ACCOUNT_PROD, World, running_world
from bridge.schema import changes, holdings, leader
from bridge.store import Ledger
from tests.faults.invariants import check_all
from tests.replicas import start_replica
from tests.waiting import wait_for

POLL = 2.0  # the world's config: poll every 2 s, standbys look every second


@pytest.fixture
def world() -> Iterator[World]:
    with running_world() as w:  # real clock: the replicas are separate processes
        yield w


def leader_pid(engine: Engine) -> int | None:
    with engine.connect() as conn:
        row = conn.execute(select(leader.c.holder)).first()
    return int(row.holder.rsplit(":", 1)[1]) if row else None


def statuses(engine: Engine, op: str, target_key: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(changes.c.status)
            .where(changes.c.op == op, changes.c.target_key == target_key)
            .order_by(changes.c.id)
        ).all()
    return [r.status for r in rows]


def held(engine: Engine, user: str, target_key: str) -> bool:
    with engine.connect() as conn:
        state = conn.execute(
            select(holdings.c.state).where(
                holdings.c.ic_user_id == user, holdings.c.target_key == target_key
            )
        ).scalar()
    return state == "held"


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    """The test's own view of the ledger, disposed of however the test ends."""
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


def test_leader_killed_mid_cycle_and_its_successor_mid_expiry_lose_nothing(
    world: World, pg_url: str, engine: Engine, tmp_path: Path
) -> None:
    config = world.write_config(tmp_path / "pim-bridge.toml", pg_url)
    Ledger(pg_url).close()
    group = GroupMembership(world.ic_group_id).key
    assignment = AccountAssignment(ACCOUNT_PROD, world.permission_set_arn).key
    alice = world.ic_users["alice"]
    procs: dict[str, subprocess.Popen[bytes]] = {}

    def log(name: str) -> str:
        return (tmp_path / f"{name}.log").read_text(errors="replace")[-3000:]

    try:
        procs["a"] = start_replica(world, config, tmp_path / "a.log")
        assert wait_for(lambda: leader_pid(engine) == procs["a"].pid, 60), log("a")
        procs["b"] = start_replica(world, config, tmp_path / "b.log")

        # Mid-cycle: alice's assignment creation is accepted by AWS and still in progress.
        world.aws.async_delay = 3.0
        world.graph.actor().activate(
            world.entra_users["alice"],
            world.entra_groups["prod-admin"],
            timedelta(seconds=12),
            "fault suite",
        )
        end = datetime.now(UTC) + timedelta(seconds=12)
        assert wait_for(lambda: "intent" in statuses(engine, "add", assignment), POLL + 5)
        procs["a"].send_signal(signal.SIGKILL)
        procs["a"].wait(10)
        world.aws.async_delay = 0.0

        assert wait_for(lambda: leader_pid(engine) == procs["b"].pid, 15), log("b")
        # The cut-off creation is read back by b's first drift sweep and held: not made twice.
        assert wait_for(lambda: held(engine, alice, assignment), 20), log("b")
        assert statuses(engine, "add", assignment)[0] == "interrupted"
        assert world.aws.assignments(ACCOUNT_PROD, world.permission_set_arn) == [("USER", alice)]
        assert world.ic_members() == {alice}
        procs["c"] = start_replica(world, config, tmp_path / "c.log")

        # Mid-expiry: at alice's end, b's deletion is accepted and in progress when b dies.
        world.aws.async_delay = 2.0
        assert wait_for(lambda: "intent" in statuses(engine, "remove", assignment), 40), log("b")
        procs["b"].send_signal(signal.SIGKILL)
        procs["b"].wait(10)
        world.aws.async_delay = 0.0
        assert wait_for(lambda: leader_pid(engine) == procs["c"].pid, 15), log("c")
        gone = wait_for(lambda: alice not in world.ic_members() and not world.ic_assigned(), 20)
        late = (datetime.now(UTC) - end).total_seconds()
        assert gone, log("c")
        # 2 s for the revocation, 2 s of the sandbox's asynchronous delay, a takeover (~2 s).
        assert late <= 8.0, f"alice kept access {late:.1f}s past her end"
        assert wait_for(lambda: statuses(engine, "remove", assignment)[-1:] == ["ok"], 10)
        assert "interrupted" in statuses(engine, "remove", assignment)
        assert statuses(engine, "remove", group)[-1:] == ["ok"]
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(10)
    present = {Binding.of(u, group) for u in world.ic_members()} | {
        Binding.of(u, assignment) for u in world.ic_assigned()
    }
    check_all(engine, present, datetime.now(UTC))
