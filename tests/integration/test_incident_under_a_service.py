"""`pim-bridge revoke` and `unblock` while `pim-bridge run` leads the store: the CLI hands the
request to the service through the ledger, the service performs it, and the CLI prints what it
did and exits with its code; never two writers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bridge.sandbox.receiver import running_receiver
from bridge.service import Service
from tests.integration.incident_fixtures import Rig, leading_service, rig

__all__ = ["rig"]  # the fixture, used by name
pytestmark = pytest.mark.integration


@pytest.fixture
def service(rig: Rig) -> Iterator[Service]:
    rig.granted("alice")  # by `sync`, before the service takes the store
    with leading_service(rig.config) as running:
        yield running


@pytest.mark.parametrize("mechanism", ["inline", "scp"])
def test_a_revoke_while_a_service_leads_is_performed_by_that_leader(
    rig: Rig, mechanism: str
) -> None:
    if mechanism == "scp":
        rig.use_scp()
    old = rig.granted("alice")
    with leading_service(rig.config):
        code, out = rig.revoke("alice", "--reason", "phished laptop")

        assert code == 0, out
        assert "a service leads the store: handed to it" in out
        assert "denied: every session of alice@example.com" in out
        assert "removed: - alice@example.com -> AWS-Prod-Admin  (revoked)" in out, out
        assert "blocked: alice@example.com" in out
        assert not rig.w.aws.is_allowed(old)
        assert not rig.holds("alice")
        [blocked] = json.loads(rig.cli("status", "--format", "json")[1])["blocked"]
        assert (blocked["by"], blocked["reason"]) == ("sec-oncall", "phished laptop")


def test_an_unblock_while_a_service_leads_lets_that_leader_grant_again(
    rig: Rig, service: Service
) -> None:
    assert rig.revoke("alice")[0] == 0

    code, out = rig.cli("unblock", "--user", "alice@example.com")

    assert code == 0, out
    assert "unblocked: alice@example.com" in out
    service.poll()  # the next cycle
    assert rig.holds("alice")


def test_an_unknown_user_named_to_the_leader_is_a_usage_error(rig: Rig, service: Service) -> None:
    code, out = rig.revoke("nobody")

    assert code == 2, out
    assert "nobody@example.com" in out and "--user" in out


def test_a_step_the_leader_could_not_do_is_named_and_the_exit_code_is_1(
    rig: Rig, service: Service
) -> None:
    rig.w.graph.tenant.deny("assignment_requests")

    code, out = rig.revoke("alice", "--in-entra")

    assert code == 1, out
    assert "FAILED entra:" in out and "PrivilegedAssignmentSchedule.ReadWrite" in out
    assert not rig.holds("alice")


def test_a_revoke_the_leader_performs_is_told_to_the_channel_by_the_leader(rig: Rig) -> None:
    rig.granted("alice")
    with running_receiver() as channel:
        rig.notify_to(channel.url, "revoked", "blocked")
        with leading_service(rig.config):
            assert rig.revoke("alice")[0] == 0
            got = channel.wait_for(3)
    assert sorted(r.body["event"] for r in got) == ["blocked", "revoked", "revoked"]
