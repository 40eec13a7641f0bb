"""A reconcile cycle end to end through the ledger, with in-memory ports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bridge.config import config_from_dict
from bridge.ports import FakeClock
from bridge.reconcile import Reconciler
from bridge.store import Ledger
from tests.fakes import FakeIdentityCenter, FakePim

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GROUP_KEY = "group:gid-AWS-Admin"


def make(tmp_path, **mapping: object):  # type: ignore[no-untyped-def]
    m = {"name": "admins", "entra_group_id": "eg-1", "identity_center_group": "AWS-Admin"}
    m.update(mapping)
    cfg = config_from_dict(
        {
            "aws": {"identity_store_id": "d-1", "instance_arn": "arn:aws:sso:::instance/ssoins-1"},
            "store": {"url": f"sqlite:///{tmp_path / 'ledger.db'}"},
            "mappings": [m],
        },
        {},
    )
    pim, ic, clock = FakePim(), FakeIdentityCenter(["alice@x", "bob@x"]), FakeClock(T0)
    ledger = Ledger(cfg.store.url)
    return pim, ic, clock, ledger, Reconciler(cfg, pim, ic, ledger, clock)


def test_activation_is_mirrored_and_recorded_with_its_end(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pim, ic, clock, ledger, rec = make(tmp_path)
    pim.activate("eg-1", "alice@x", T0, T0 + timedelta(hours=1))
    result = rec.cycle()
    assert result.exit_code == 0
    assert ic.state[GROUP_KEY] == {"u-alice@x"}
    assert ledger.next_expiries() == [T0 + timedelta(hours=1)]
    assert [c["status"] for c in ledger.changes_since(T0)] == ["ok"]


def test_expiry_revokes_from_the_ledger_during_a_graph_outage(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pim, ic, clock, ledger, rec = make(tmp_path)
    pim.activate("eg-1", "alice@x", T0, T0 + timedelta(minutes=5))
    rec.cycle()
    pim.failing.add("eg-1")
    clock.advance(300)
    result = rec.expire()
    assert ic.state[GROUP_KEY] == set()
    assert [c.reason for c in result.applied] == ["expired"]
    assert ledger.live_grants() == []


def test_graph_outage_removes_nothing_and_exits_nonzero(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pim, ic, clock, ledger, rec = make(tmp_path)
    pim.activate("eg-1", "alice@x", T0, T0 + timedelta(hours=1))
    rec.cycle()
    pim.failing.add("eg-1")
    clock.advance(60)
    result = rec.cycle(live=True)
    assert result.exit_code == 1
    assert ic.state[GROUP_KEY] == {"u-alice@x"}
    assert "eg-1" in result.findings[0].detail


def test_failed_revoke_is_retried_and_never_marked_done(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pim, ic, clock, ledger, rec = make(tmp_path)
    iid = pim.activate("eg-1", "alice@x", T0, T0 + timedelta(hours=1))
    rec.cycle()
    pim.deactivate(iid)
    ic.fail_removes = True
    clock.advance(10)
    first = rec.cycle()
    assert first.exit_code == 1 and first.failed
    held = ledger.holdings()
    assert [h.state for h in held.values()] == ["remove_failed"]
    ic.fail_removes = False
    clock.advance(10)
    second = rec.cycle()
    assert [c.op for c in second.applied] == ["remove"]
    assert ledger.holdings() == {}
    assert ic.state[GROUP_KEY] == set()


def test_unknown_user_is_reported_and_others_still_granted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pim, ic, clock, ledger, rec = make(tmp_path)
    pim.activate("eg-1", "mallory@x", T0, T0 + timedelta(hours=1))
    pim.activate("eg-1", "bob@x", T0, T0 + timedelta(hours=1))
    result = rec.cycle()
    assert ic.state[GROUP_KEY] == {"u-bob@x"}
    assert any(f.kind == "unresolved_user" and "mallory@x" in f.detail for f in result.findings)


def test_extension_moves_the_expiry(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pim, ic, clock, ledger, rec = make(tmp_path)
    iid = pim.activate("eg-1", "alice@x", T0, T0 + timedelta(hours=1))
    rec.cycle()
    pim.deactivate(iid)
    pim.activate("eg-1", "alice@x", T0, T0 + timedelta(hours=3), instance=iid)
    result = rec.cycle()
    assert result.grant_sync is not None and len(result.grant_sync.extended) == 1
    assert ledger.next_expiries() == [T0 + timedelta(hours=3)]
    assert result.plan.empty


def test_dry_run_changes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pim, ic, clock, ledger, rec = make(tmp_path)
    pim.activate("eg-1", "alice@x", T0, T0 + timedelta(hours=1))
    result = rec.cycle(dry_run=True)
    assert [c.op for c in result.plan.changes] == ["add"]
    assert ic.writes == 0 and ledger.holdings() == {} and ledger.live_grants() == []


def test_missing_group_name_is_reported_naming_the_key_and_fails_the_cycle(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pim, ic, clock, ledger, rec = make(tmp_path, identity_center_group="missing-group")
    pim.activate("eg-1", "alice@x", T0, T0 + timedelta(hours=1))
    result = rec.cycle()
    assert result.exit_code == 1 and result.applied == []
    [finding] = [f for f in result.findings if f.kind == "unresolved_mapping"]
    assert finding.detail.startswith("mappings[0].identity_center_group: ")
    assert finding.mapping == "admins"


def test_permanent_assignment_mirrored_only_with_include_permanent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pim, ic, clock, ledger, rec = make(tmp_path)
    pim.activate("eg-1", "alice@x", T0, None, kind="assigned")
    rec.cycle()
    assert ic.state.get(GROUP_KEY, set()) == set()
    (tmp_path / "b").mkdir()
    pim2, ic2, clock2, ledger2, rec2 = make(tmp_path / "b", include_permanent=True)
    pim2.activate("eg-1", "alice@x", T0, None, kind="assigned")
    rec2.cycle()
    assert ic2.state[GROUP_KEY] == {"u-alice@x"}


def test_a_lasting_finding_is_recorded_once_not_every_poll(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from bridge.schema import findings

    pim, ic, clock, ledger, rec = make(tmp_path)
    pim.activate("eg-1", "mallory@x", T0, T0 + timedelta(hours=1))
    for _ in range(5):
        assert any(f.kind == "unresolved_user" for f in rec.cycle().findings)
        clock.advance(15)
    with ledger.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(findings)).scalar() == 1
