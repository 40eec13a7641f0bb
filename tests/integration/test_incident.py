"""`pim-bridge revoke` and `unblock` as an incident responder runs them, against the Graph
sandbox and moto's server over HTTP: sessions are evaluated against the provisioned policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bridge.leader import writer_lock
from bridge.sandbox.receiver import running_receiver
from bridge.sandbox.world import ACCOUNT_DEV, ACCOUNT_PROD
from tests.integration.incident_fixtures import HOUR, Rig, rig

OTHER_ACCOUNT = "333333333333"

__all__ = ["rig"]  # the fixture, used by name


@pytest.mark.parametrize("mechanism", ["inline", "scp"])
def test_a_revoked_users_older_session_is_refused_at_once_and_their_access_removed(
    rig: Rig, mechanism: str
) -> None:
    if mechanism == "scp":
        rig.use_scp()
    old = rig.granted("alice")
    # No issue-time bound: even a session issued after the revoke's moment is refused.
    later = rig.session("alice", datetime.now(UTC) + HOUR / 60)
    assert rig.w.aws.is_allowed(old)

    code, out = rig.revoke("alice", "--reason", "phished laptop")

    assert code == 0, out
    assert not rig.w.aws.is_allowed(old)
    assert not rig.w.aws.is_allowed(later, now=datetime.now(UTC) + HOUR / 30)
    assert not rig.holds("alice")
    assert "denied: every session of alice@example.com" in out
    assert "removed: - alice@example.com -> AWS-Prod-Admin  (revoked)" in out, out


def test_the_next_cycle_grants_a_revoked_user_nothing_and_says_so_by_name(rig: Rig) -> None:
    rig.granted("alice")
    rig.granted("bob")
    assert rig.revoke("alice")[0] == 0

    code, out = rig.cli("sync")

    assert code == 0, out
    assert not rig.holds("alice") and rig.holds("bob")
    assert "blocked: alice@example.com is blocked by `pim-bridge revoke`" in out


def test_the_report_shows_the_revoked_grant_with_who_and_why(rig: Rig) -> None:
    rig.granted("alice")
    assert rig.revoke("alice", "--reason", "phished laptop")[0] == 0

    code, out = rig.cli("report", "--format", "json")

    assert code == 0, out
    rows = [r for r in json.loads(out)["rows"] if r["user"] == "alice@example.com"]
    assert rows and all(r["end_reason"] == "revoked" for r in rows)
    assert {r["end_note"] for r in rows} == {"by sec-oncall: phished laptop"}


def test_unblock_lets_the_next_cycle_grant_the_user_again(rig: Rig) -> None:
    old = rig.granted("alice")
    assert rig.revoke("alice")[0] == 0

    code, out = rig.cli("unblock", "--user", "alice@example.com")
    assert code == 0, out
    assert "unblocked: alice@example.com" in out
    assert rig.cli("sync")[0] == 0

    assert rig.holds("alice")
    assert not rig.w.aws.is_allowed(old)  # issued before the revoke: still refused
    assert rig.w.aws.is_allowed(rig.session("alice", datetime.now(UTC) + HOUR / 60))


def test_unblocking_a_user_who_is_not_blocked_says_so(rig: Rig) -> None:
    code, out = rig.cli("unblock", "--user", "bob@example.com")

    assert code == 0, out
    assert "bob@example.com is not blocked" in out


def test_in_entra_ends_the_pim_activation_too(rig: Rig) -> None:
    rig.granted("alice")

    code, out = rig.revoke("alice", "--in-entra")

    assert code == 0, out
    group, alice = rig.w.entra_groups["prod-admin"], rig.w.entra_users["alice"]
    assert rig.w.graph.tenant.live_instances(group, alice) == []
    [request] = [r for r in rig.w.graph.tenant.requests if r.action == "adminRemove"]
    assert request.justification == "pim-bridge revoke by sec-oncall"


def test_in_entra_without_the_write_permission_is_named_and_the_rest_still_done(
    rig: Rig,
) -> None:
    old = rig.granted("alice")
    rig.w.graph.tenant.deny("assignment_requests")

    code, out = rig.revoke("alice", "--in-entra")

    assert code == 1, out
    assert "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup" in out
    assert not rig.w.aws.is_allowed(old) and not rig.holds("alice")
    assert rig.w.graph.tenant.live_instances(rig.w.entra_groups["prod-admin"], None)


def test_an_unknown_user_is_a_usage_error_naming_them(rig: Rig) -> None:
    code, out = rig.cli("revoke", "--user", "nobody@example.com")

    assert code == 2
    assert "nobody@example.com" in out


def test_a_user_the_bridge_holds_nothing_for_has_nothing_to_revoke(rig: Rig) -> None:
    code, out = rig.revoke("bob")

    assert code == 0, out
    assert "nothing to revoke" in out
    assert rig.cli("unblock", "--user", "bob@example.com")[1].count("not blocked") == 1


def test_deny_only_denies_where_the_mappings_could_grant_the_user(rig: Rig) -> None:
    # Access the bridge never gave, and a session from it.
    rig.w.aws.assign(ACCOUNT_PROD, rig.w.permission_set_arn, rig.w.ic_users["bob"], "USER")
    session = rig.session("bob")

    code, out = rig.revoke("bob", "--deny-only")

    assert code == 0, out
    assert not rig.w.aws.is_allowed(session)


def test_revoking_again_is_harmless(rig: Rig) -> None:
    old = rig.granted("alice")
    assert rig.revoke("alice")[0] == 0

    code, out = rig.revoke("alice")

    assert code == 0, out
    assert not rig.w.aws.is_allowed(old)
    policy = rig.w.aws.client("sso-admin").get_inline_policy_for_permission_set(
        InstanceArn=rig.w.aws.instance_arn, PermissionSetArn=rig.w.permission_set_arn
    )["InlinePolicy"]
    blocks = [s for s in json.loads(policy)["Statement"] if s["Sid"].endswith("Blocked")]
    assert len(blocks) == 1


def test_failed_provisioning_of_the_deny_is_named_the_rest_done_and_a_rerun_mends_it(
    rig: Rig,
) -> None:
    old = rig.granted("alice")
    rig.w.aws.fail_next_provisioning(ACCOUNT_PROD, rig.w.permission_set_arn)

    code, out = rig.revoke("alice")

    assert code == 1, out
    # The step's own line (the log's ERROR line says the same, for the log's reader).
    [failed] = [line for line in out.splitlines() if line.lstrip().startswith("FAILED")]
    assert "deny on permission set AdministratorAccess" in failed
    assert not rig.holds("alice")
    assert "blocked: alice@example.com" in out
    assert rig.revoke("alice")[0] == 0
    assert not rig.w.aws.is_allowed(old)


def test_a_revoke_no_leader_takes_within_its_wait_is_cancelled_and_nothing_done(
    rig: Rig,
) -> None:
    rig.granted("alice")
    # The store's writer lock held by a process that takes no requests (a stuck writer).
    with writer_lock(rig.store_url):
        code, out = rig.revoke("alice", "--wait", "1")

    assert code == 1, out
    assert "no leader took it within 1s: cancelled, nothing done" in out
    assert rig.holds("alice")
    # Cancelled, not left queued: a service started later does not perform it.
    code, out = rig.cli("status", "--format", "json")
    assert json.loads(out)["blocked"] is None


def test_status_shows_a_revoked_user_as_blocked_since_when_by_whom_and_why(rig: Rig) -> None:
    rig.granted("alice")
    assert rig.revoke("alice", "--reason", "phished laptop")[0] == 0

    code, out = rig.cli("status", "--format", "json")
    assert code == 0, out
    [blocked] = json.loads(out)["blocked"]
    assert blocked["user"] == "alice@example.com" and blocked["since"]
    assert (blocked["by"], blocked["reason"]) == ("sec-oncall", "phished laptop")

    code, table = rig.cli("status")
    assert code == 0, table
    section = table.split("Blocked users")[1]
    assert "alice@example.com" in section and "sec-oncall" in section
    assert "phished laptop" in section

    assert rig.cli("unblock", "--user", "alice@example.com")[0] == 0
    assert json.loads(rig.cli("status", "--format", "json")[1])["blocked"] is None


def test_a_revoke_tells_the_channel_each_removal_and_the_block(rig: Rig) -> None:
    rig.granted("alice")
    with running_receiver() as channel:
        rig.notify_to(channel.url, "revoked", "blocked")

        assert rig.revoke("alice", "--reason", "phished laptop")[0] == 0
        notices = [r.body for r in channel.wait_for(3)]
    revoked = [n for n in notices if n["event"] == "revoked"]
    assert {n["target"] for n in revoked} == {
        "AWS-Prod-Admin",
        f"AdministratorAccess @ {ACCOUNT_PROD}",
    }
    assert all(n["user"] == "alice@example.com" for n in revoked)
    assert all(n["detail"] == "revoked by sec-oncall: phished laptop" for n in revoked)
    [blocked] = [n for n in notices if n["event"] == "blocked"]
    assert blocked["user"] == "alice@example.com"
    assert "by sec-oncall: phished laptop" in blocked["detail"]
    assert "pim-bridge unblock --user alice@example.com" in blocked["detail"]


@pytest.mark.parametrize("elsewhere", [False, True], ids=["its-only-accounts", "and-another"])
def test_a_revoke_refuses_the_users_sessions_on_every_account_of_a_permission_set(
    rig: Rig, elsewhere: bool
) -> None:
    w = rig.w
    text = rig.config.read_text()
    dev = f'{{ account_id = "{ACCOUNT_DEV}", permission_set = "{w.permission_set_name}" }}, '
    rig.config.write_text(text.replace("assignments = [", f"assignments = [{dev}", 1))
    if elsewhere:  # also provisioned where alice holds nothing: her accounts one by one
        w.aws.assign(OTHER_ACCOUNT, w.permission_set_arn, w.ic_users["bob"])
    rig.activate("alice")
    assert rig.cli("sync")[0] == 0
    now = datetime.now(UTC)
    alice = w.ic_users["alice"]
    hers = [
        w.aws.issue_session(alice, w.permission_set_arn, a, now)
        for a in (ACCOUNT_PROD, ACCOUNT_DEV)
    ]
    assert all(w.aws.is_allowed(s) for s in hers)

    code, out = rig.revoke("alice")

    assert code == 0, out
    assert not any(w.aws.is_allowed(s) for s in hers)
    provisioned = {r.account_id for r in w.aws.requests() if r.kind == "provision"}
    # None: one request to every account the permission set is provisioned to.
    assert provisioned == ({ACCOUNT_PROD, ACCOUNT_DEV} if elsewhere else {None})
    if elsewhere:
        bobs = w.aws.issue_session(w.ic_users["bob"], w.permission_set_arn, OTHER_ACCOUNT, now)
        assert w.aws.is_allowed(bobs)
