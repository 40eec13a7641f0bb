"""The named reads the edges (metrics, health, the demo) make of the store instead of SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.model import (
    Binding,
    Change,
    Ended,
    Finding,
    Grant,
    GrantVerdicts,
    GroupMembership,
    Reason,
    User,
)
from bridge.store import Ledger

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _grant(user: str, group: str, minutes: int, instance: str) -> Grant:
    return Grant(
        User(f"p-{user}", f"{user}@x", f"u-{user}"),
        GroupMembership(group),
        T0,
        T0 + timedelta(minutes=minutes),
        instance,
        "admins",
    )


def _removal(user: str, group: str, reason: Reason = Reason.EXPIRED) -> Change:
    return Change("remove", Binding.of(f"u-{user}", f"group:{group}"), reason)


def test_revocation_latencies_measure_from_the_latest_expired_end_of_each_removal() -> None:
    ledger = Ledger("sqlite://")
    early, late = _grant("alice", "g-1", 10, "i-1"), _grant("alice", "g-1", 20, "i-2")
    bob, carol = _grant("bob", "g-1", 20, "i-3"), _grant("carol", "g-1", 20, "i-4")
    ledger.record_verdicts(GrantVerdicts(new=(early, late, bob, carol)), T0)
    end = T0 + timedelta(minutes=20)
    ledger.record_verdicts(
        GrantVerdicts(
            ended=(
                Ended(early, Reason.EXPIRED, end),
                Ended(late, Reason.EXPIRED, end),
                Ended(bob, Reason.EXPIRED, end),
                Ended(carol, Reason.DEACTIVATED, end),  # no PIM end to measure from
            )
        ),
        end,
    )
    now = end + timedelta(seconds=2)
    removals = [_removal("bob", "g-1"), _removal("carol", "g-1"), _removal("alice", "g-1")]
    assert ledger.revocation_latencies(removals, now) == [2.0, 2.0]
    assert ledger.revocation_latencies([], now) == []
    assert ledger.live_grant_count() == 0


def test_reads_for_health_and_the_demo() -> None:
    ledger = Ledger("sqlite://")
    ledger.record_verdicts(GrantVerdicts(new=(_grant("alice", "g-1", 10, "i-1"),)), T0)
    later = T0 + timedelta(minutes=1)
    ledger.record_verdicts(GrantVerdicts(new=(_grant("bob", "g-1", 30, "i-2"),)), later)
    assert ledger.live_grant_count() == 2
    assert ledger.recent_user_names(5) == ["bob@x", "alice@x"]
    assert ledger.recent_user_names(1) == ["bob@x"]
    assert ledger.last_end_of("bob@x", "admins") == T0 + timedelta(minutes=30)
    assert ledger.last_end_of("bob@x", "other") is None
    ledger.record_findings(None, [Finding("unresolved_user", "dave@x unknown", "admins")], T0)
    assert ledger.finding_details("unresolved_user") == ["dave@x unknown"]
    assert ledger.finding_details("drift") == []
    assert ledger.dialect == "sqlite"
