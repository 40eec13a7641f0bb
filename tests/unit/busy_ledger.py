"""A ledger busy the way a week of the bridge leaves one, written through the ledger's own API:
grants of two kinds of target over several mappings, overlapping grants of one user and target
(one carries the access on past the other's end), removals that failed first, access still
held past its end, session denials written, failed and withdrawn, SCIM lag samples, drift and
an unknown user. Deterministic: the same rows, ids and times at every build."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bridge.model import (
    AccountAssignment,
    Binding,
    Change,
    Ended,
    Grant,
    GrantVerdicts,
    GroupMembership,
    Reason,
    Target,
    User,
)
from bridge.schema import findings, lag_samples
from bridge.store import Ledger

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=12)
PS_ARN = "arn:aws:sso:::permissionSet/ssoins-1/ps-admin"
TARGETS: tuple[Target, ...] = (
    GroupMembership("g-ops"),
    AccountAssignment("111111111111", PS_ARN),
    AccountAssignment("222222222222", PS_ARN),
)


def _grant(i: int) -> Grant:
    who = f"user{i % 11:02d}"
    user = User(f"p-{who}", f"{who}@example.com", f"ic-{who}")
    start = T0 + timedelta(minutes=4 * i)
    # Every fifth grant is long: the same user's grant of the same target thirty-three
    # grants on starts within it and carries the access on.
    end = start + timedelta(hours=3 if i % 5 == 0 else 1)
    return Grant(
        user,
        TARGETS[i % len(TARGETS)],
        start,
        end,
        f"inst-{i}",
        f"map-{i % 3}",
        f"INC-{i} fix" if i % 4 else None,
        f"T-{i}" if i % 2 else None,
        "approver@example.com" if i % 6 == 0 else None,
    )


def _change(ledger: Ledger, g: Grant, op: str, status: str, at: datetime) -> None:
    reason = Reason.ACTIVATED if op == "add" else Reason.EXPIRED
    change = Change(op, Binding(g.user.ic_user_id, g.target), reason, g.mapping, g.user.name)
    error = "ThrottlingException: rate exceeded" if status == "failed" else None
    ledger.record_outcome(ledger.record_intent(None, change, at), change, at, error)


def build(ledger: Ledger, n: int = 120) -> None:
    """`n` grants from T0 on, four minutes apart; the report's now is NOW."""
    for i in range(n):
        g = _grant(i)
        ledger.record_verdicts(GrantVerdicts(new=(g,)), g.not_before + timedelta(seconds=1))
        _change(ledger, g, "add", "ok", g.not_before + timedelta(seconds=1 + i % 3))
    for i in range(n):
        g = _grant(i)
        assert g.not_after is not None
        if g.not_after > NOW:
            continue
        ledger.record_verdicts(GrantVerdicts(ended=(Ended(g, Reason.EXPIRED, g.not_after),)), NOW)
        if i % 13 == 7:
            continue  # never removed: still held past its end
        if i % 7 == 3:
            _change(ledger, g, "remove", "failed", g.not_after)
        removed = g.not_after + timedelta(seconds=1 + (i % 4) * 1.5)
        _change(ledger, g, "remove", "ok", removed)
        if isinstance(g.target, AccountAssignment):
            status = ("provisioned", "failed", "disarmed")[(i // 3) % 3]
            users = {g.user.ic_user_id: {g.target.account_id}}
            done = removed + timedelta(seconds=3) if status == "provisioned" else None
            ledger.record_denials(removed, PS_ARN, users, status, done, "policy too large")
    _forgotten(ledger)
    _samples_and_findings(ledger, n)


def _forgotten(ledger: Ledger) -> None:
    """One user's only grant, ended and never removed: still held now."""
    user = User("p-zed", "zed@example.com", "ic-zed")
    start = T0 + timedelta(hours=1)
    g = Grant(user, TARGETS[0], start, start + timedelta(hours=1), "inst-zed", "map-0", "oops")
    ledger.record_verdicts(GrantVerdicts(new=(g,)), start)
    _change(ledger, g, "add", "ok", start + timedelta(seconds=2))
    ledger.record_verdicts(GrantVerdicts(ended=(Ended(g, Reason.EXPIRED, g.not_after),)), NOW)


def _samples_and_findings(ledger: Ledger, n: int) -> None:
    with ledger.engine.begin() as conn:
        rows = []
        for i in range(0, n, 3):
            g = _grant(i)
            for kind, pim_at in (("activation", g.not_before), ("removal", g.not_after)):
                exported = i % 9 != 6
                rows.append(
                    {
                        "mapping": g.mapping,
                        "source_instance_id": g.source_instance_id,
                        "kind": kind,
                        "principal_id": g.user.principal_id,
                        "user_name": g.user.name,
                        "entra_group_id": f"eg-{g.mapping}",
                        "pim_at": pim_at,
                        "bridge_at": pim_at,
                        "scim_at": pim_at + timedelta(seconds=40 + i) if exported else None,
                        "scim_state": "exported" if exported else "pending",
                        "recorded_at": NOW,
                    }
                )
        conn.execute(insert(lag_samples), rows)
        conn.execute(
            insert(findings),
            [
                {
                    "at": T0 + timedelta(seconds=15 * k),
                    "kind": "unresolved_user",
                    "mapping": "map-0",
                    "detail": "ghost@example.com: no Identity Center user",
                }
                for k in range(40)
            ]
            + [
                {
                    "at": T0 + timedelta(hours=2),
                    "kind": "drift",
                    "mapping": "map-1",
                    "detail": "ic-user03 in g-ops without a grant (drift = report)",
                    "ic_user_id": "ic-user03",
                    "user_name": "user03@example.com",
                    "target": "g-ops",
                }
            ],
        )
