"""Leader election on PostgreSQL and the epoch fence that makes a deposed leader harmless."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.errors import ConfigError
from bridge.leader import PostgresElection, SingleReplica
from bridge.model import Binding, Change, Reason
from bridge.store import Fenced, Ledger

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CHANGE = Change("add", Binding.of("u-1", "group:g-1"), Reason.ACTIVATED)


def test_only_one_replica_leads_and_a_standby_takes_over_when_it_goes(pg_url: str) -> None:
    a, b = PostgresElection(pg_url), PostgresElection(pg_url)
    try:
        assert a.try_acquire()
        assert not b.try_acquire()
        assert a.still_leader()
        a.release()  # the leader stops (or dies: its connection, and so its lock, goes)
        assert b.try_acquire()
        assert not a.try_acquire()
    finally:
        a.release()
        b.release()


def test_deposed_leader_cannot_record_an_intent(pg_url: str) -> None:
    old, new = Ledger(pg_url), Ledger(pg_url)
    try:
        old.take_leadership("replica-a", NOW)
        old.record_intent(None, CHANGE, NOW)
        new.take_leadership("replica-b", NOW)
        with pytest.raises(Fenced):
            old.record_intent(None, CHANGE, NOW)
        with pytest.raises(Fenced):
            old.start_cycle("poll", NOW)
        with pytest.raises(Fenced):
            old.release(CHANGE.binding)
        with pytest.raises(Fenced):
            old.mark_interrupted(NOW)
        new.record_intent(None, CHANGE, NOW)
        assert [c["status"] for c in new.changes_since(NOW)] == ["intent", "intent"]
    finally:
        old.close()
        new.close()


def test_migrations_run_on_postgresql_and_twice_is_harmless(pg_url: str) -> None:
    Ledger(pg_url).close()
    ledger = Ledger(pg_url)
    try:
        assert ledger.current_leader() is None
        assert ledger.take_leadership("x", NOW) == 1
    finally:
        ledger.close()


def test_sqlite_refuses_a_second_replica_with_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    first = SingleReplica(url)
    with pytest.raises(ConfigError) as exc:
        SingleReplica(url)
    assert exc.value.key == "store.url" and "postgresql" in exc.value.reason
    first.release()
    SingleReplica(url).release()
