"""`revoke` while a replica leads a PostgreSQL store: the leader performs it, and a deposed
leader can neither take a queued request nor record an outcome."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.sandbox.world import running_world
from bridge.store import Fenced, Ledger, RequestOutcome
from tests.integration.incident_fixtures import Rig, leading_service

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def rig(tmp_path: Path, capsys: pytest.CaptureFixture[str], pg_url: str) -> Iterator[Rig]:
    with running_world() as world:
        world.export_env()
        made = Rig(world, tmp_path, capsys, pg_url)
        try:
            yield made
        finally:
            made.close()


def test_a_revoke_while_a_replica_leads_postgresql_is_performed_by_the_leader(rig: Rig) -> None:
    old = rig.granted("alice")
    with leading_service(rig.config):
        code, out = rig.revoke("alice", "--reason", "phished laptop")

        assert code == 0, out
        assert "a service leads the store: handed to it" in out
        assert not rig.w.aws.is_allowed(old)
        assert not rig.holds("alice")


def test_a_deposed_leader_can_neither_take_a_request_nor_record_its_outcome(pg_url: str) -> None:
    old, new, cli = Ledger(pg_url), Ledger(pg_url), Ledger(pg_url)
    try:
        old.take_leadership("replica-a", NOW)
        first = cli.incident_requests.queue("unblock", {"user": "a"}, "cli", NOW, NOW + HOUR)
        taken = old.incident_requests.claim("replica-a", NOW)
        assert taken is not None and taken.id == first
        cli.incident_requests.queue("unblock", {"user": "b"}, "cli", NOW, NOW + HOUR)
        new.take_leadership("replica-b", NOW)

        with pytest.raises(Fenced):
            old.incident_requests.claim("replica-a", NOW)
        with pytest.raises(Fenced):
            old.incident_requests.finish(first, RequestOutcome(0, ["unblocked"]), NOW)

        assert new.incident_requests.interrupt_running(NOW) == 1
        again = new.incident_requests.claim("replica-b", NOW)
        assert again is not None and again.request == {"user": "b"}
        request = cli.incident_requests.request(first)
        assert request is not None and request.state == "interrupted"
    finally:
        for ledger in (old, new, cli):
            ledger.close()
