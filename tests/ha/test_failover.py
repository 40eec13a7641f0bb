"""Two `pim-bridge run` replicas on one PostgreSQL: kill -9 the leader, and an expiry due
during the failover still happens within a poll interval plus 2 s, with no double apply."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from bridge.sandbox.world import World, running_world
from bridge.schema import changes, leader
from bridge.store import Ledger
from tests.replicas import start_replica
from tests.waiting import wait_for

POLL = 2.0


@pytest.fixture
def world() -> Iterator[World]:
    with running_world() as w:
        yield w


def test_killed_leader_is_replaced_and_its_expiry_still_happens_on_time(
    world: World, pg_url: str, tmp_path: Path
) -> None:
    config = world.write_config(tmp_path / "pim-bridge.toml", pg_url)
    text = config.read_text().replace('poll_interval = "2s"', f'poll_interval = "{POLL:g}s"')
    config.write_text(text)
    Ledger(pg_url).close()  # the schema, before anyone asks who leads
    engine = create_engine(pg_url)

    def holder() -> str | None:
        with engine.connect() as conn:
            row = conn.execute(select(leader.c.holder)).first()
        return row.holder if row else None

    a = start_replica(world, config, tmp_path / "a.log")
    b: subprocess.Popen[bytes] | None = None
    try:
        assert wait_for(lambda: holder() is not None, 60), (tmp_path / "a.log").read_text()
        assert holder() is not None and holder().endswith(f":{a.pid}")  # type: ignore[union-attr]
        b = start_replica(world, config, tmp_path / "b.log")
        time.sleep(3)  # b is a standby now
        assert holder().endswith(f":{a.pid}")  # type: ignore[union-attr]

        actor = world.graph.actor()
        alice = world.ic_users["alice"]
        actor.activate(
            world.entra_users["alice"],
            world.entra_groups["prod-admin"],
            timedelta(seconds=10),
            "failover test",
        )
        asked = datetime.now(UTC)
        assert wait_for(lambda: alice in world.ic_members(), POLL + 5)
        end = asked + timedelta(seconds=10)
        time.sleep(max(0.0, (end - timedelta(seconds=1) - datetime.now(UTC)).total_seconds()))
        a.send_signal(signal.SIGKILL)  # one second before alice's end
        a.wait(10)

        assert wait_for(lambda: alice not in world.ic_members(), 20), (
            tmp_path / "b.log"
        ).read_text()
        late = (datetime.now(UTC) - end).total_seconds()
        assert late <= POLL + 2, f"revoked {late:.1f}s after the end"
        assert holder().endswith(f":{b.pid}")  # type: ignore[union-attr]
        assert alice not in world.ic_assigned()
        with engine.connect() as conn:
            adds = conn.execute(
                select(func.count()).where(
                    changes.c.op == "add", changes.c.status == "ok", changes.c.ic_user_id == alice
                )
            ).scalar()
        assert adds == 2  # one membership, one assignment: nothing applied twice
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGABRT)
                    proc.wait(10)
        engine.dispose()
