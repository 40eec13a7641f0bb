"""Stale AWS sessions are denied after a revocation, through the sandbox's simulated sessions:
a session issued before the revocation stops working, one from a later activation works."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.config import config_from_dict
from bridge.denial.policy import denial_bound
from bridge.revoke import ARM_SLACK, RemovalTimes
from bridge.sandbox.world import ACCOUNT_PROD, World, running_world
from bridge.wiring import Bridge, build

FOREIGN = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "TeamOwned", "Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}
    ],
}


@pytest.fixture
def world() -> Iterator[World]:
    with running_world() as w:
        w.export_env()
        yield w


@pytest.fixture
def bridge_for(world: World, tmp_path: Path) -> Iterator[Callable[..., Bridge]]:
    """Builds the bridge with these revocation settings; closed after the test."""
    made: list[Bridge] = []

    def make(**revocation: str) -> Bridge:
        data = world.config_dict(f"sqlite:///{tmp_path / 'ledger.db'}")
        data["revocation"] = {"deny_stale_sessions": True, **revocation}
        made.append(build(config_from_dict(data, {})))
        return made[-1]

    yield make
    for bridge in made:
        bridge.close()


def cycle_after(world: World, bridge: Bridge, who: str, action: str) -> None:
    actor = world.graph.actor()
    group = world.entra_groups["prod-admin"]
    if action == "activate":
        actor.activate(world.entra_users[who], group, timedelta(hours=1), "work")
    else:
        actor.deactivate(world.entra_users[who], group)
    result = bridge.reconciler.cycle()
    assert not result.failed, result.failed


def test_session_issued_before_revocation_is_denied_and_a_later_one_allowed(
    world: World, bridge_for: Callable[..., Bridge]
) -> None:
    sso = world.aws.client("sso-admin")
    sso.put_inline_policy_to_permission_set(
        InstanceArn=world.aws.instance_arn,
        PermissionSetArn=world.permission_set_arn,
        InlinePolicy=json.dumps(FOREIGN),
    )
    bridge = bridge_for()
    aws = world.aws
    alice = world.ic_users["alice"]
    cycle_after(world, bridge, "alice", "activate")
    old = aws.issue_session(alice, world.permission_set_arn, ACCOUNT_PROD, datetime.now(UTC))
    assert aws.is_allowed(old)

    cycle_after(world, bridge, "alice", "deactivate")
    assert not aws.is_allowed(old)

    # Re-activated at once: the denial's bound lies a little past the removal, so the new
    # access waits for it and the new session is not caught by it.
    cycle_after(world, bridge, "alice", "activate")
    fresh = aws.issue_session(alice, world.permission_set_arn, ACCOUNT_PROD, datetime.now(UTC))
    assert aws.is_allowed(fresh) and not aws.is_allowed(old)
    policy = json.loads(
        sso.get_inline_policy_for_permission_set(
            InstanceArn=world.aws.instance_arn, PermissionSetArn=world.permission_set_arn
        )["InlinePolicy"]
    )
    assert policy["Statement"][0] == FOREIGN["Statement"][0]


def test_group_membership_removal_denies_sessions_of_the_groups_permission_sets(
    world: World, bridge_for: Callable[..., Bridge]
) -> None:
    # The Identity Center group itself is assigned a second permission set (as Terraform does).
    readonly = world.aws.create_permission_set("ReadOnly", "PT2H")
    world.aws.assign("222222222222", readonly, world.ic_group_id, "GROUP")
    bridge = bridge_for()
    cycle_after(world, bridge, "bob", "activate")
    old = world.aws.issue_session(
        world.ic_users["bob"], readonly, "222222222222", datetime.now(UTC)
    )
    cycle_after(world, bridge, "bob", "deactivate")
    assert not world.aws.is_allowed(old)


def test_scp_mechanism_denies_without_reprovisioning(
    world: World, bridge_for: Callable[..., Bridge]
) -> None:
    org = world.aws.client("organizations")
    org.create_organization(FeatureSet="ALL")
    policy_id = org.create_policy(
        Content='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
        Description="pim-bridge session denials",
        Name="pim-bridge-deny",
        Type="SERVICE_CONTROL_POLICY",
    )["Policy"]["PolicySummary"]["Id"]
    bridge = bridge_for(mechanism="scp", scp_policy_id=policy_id)
    world.aws.scp_policy_id = policy_id
    cycle_after(world, bridge, "carol", "activate")
    old = world.aws.issue_session(
        world.ic_users["carol"], world.permission_set_arn, ACCOUNT_PROD, datetime.now(UTC)
    )
    provisions = world.aws.calls["ProvisionPermissionSet"]
    cycle_after(world, bridge, "carol", "deactivate")
    assert not world.aws.is_allowed(old)
    assert world.aws.calls["ProvisionPermissionSet"] == provisions


def test_an_armed_denial_stops_older_sessions_at_the_end_with_the_bridge_gone(
    world: World, bridge_for: Callable[..., Bridge]
) -> None:
    bridge = bridge_for()
    actor = world.graph.actor()
    alice = world.ic_users["alice"]
    actor.activate(
        world.entra_users["alice"], world.entra_groups["prod-admin"], timedelta(seconds=4), "work"
    )
    bridge.reconciler.cycle()
    end = bridge.ledger.next_expiries()[0]
    session = world.aws.issue_session(
        alice, world.permission_set_arn, ACCOUNT_PROD, datetime.now(UTC)
    )

    assert bridge.reconciler.denial is not None
    bridge.reconciler.denial.arm()  # within the lead of the end: written and provisioned now
    bridge.close()  # and nothing more from the bridge: no expiry job, no write after the end

    assert world.aws.is_allowed(session, now=datetime.now(UTC))
    in_force = denial_bound(end)
    assert world.aws.is_allowed(session, now=in_force - timedelta(milliseconds=1))
    assert not world.aws.is_allowed(session, now=in_force)
    # Sessions issued from the armed bound on (a later activation's) are not caught.
    bound = denial_bound(end + RemovalTimes.DEFAULT + ARM_SLACK)
    fresh = world.aws.issue_session(alice, world.permission_set_arn, ACCOUNT_PROD, bound)
    assert world.aws.is_allowed(fresh, now=bound + timedelta(minutes=1))


def _inline_policy(world: World) -> str:
    return world.aws.client("sso-admin").get_inline_policy_for_permission_set(
        InstanceArn=world.aws.instance_arn, PermissionSetArn=world.permission_set_arn
    )["InlinePolicy"]


@pytest.mark.parametrize("document", ["[]", '{"Version": "2012-10-17", "Statement": "oops"}'])
def test_a_malformed_inline_policy_is_left_as_it_is_and_the_denial_reported_not_written(
    world: World, bridge_for: Callable[..., Bridge], document: str
) -> None:
    world.aws.client("sso-admin").put_inline_policy_to_permission_set(
        InstanceArn=world.aws.instance_arn,
        PermissionSetArn=world.permission_set_arn,
        InlinePolicy=document,
    )
    bridge = bridge_for()
    cycle_after(world, bridge, "alice", "activate")
    world.graph.actor().deactivate(world.entra_users["alice"], world.entra_groups["prod-admin"])

    result = bridge.reconciler.cycle()

    assert world.ic_users["alice"] not in world.ic_members()  # the removal itself went ahead
    assert result.exit_code == 1 and not result.failed
    assert any("rewrite safely" in why for why in result.unplaced), result.unplaced
    assert _inline_policy(world) == document  # never rewritten into garbage
    with bridge.ledger.report_reader() as reader:
        failed = reader.failed_denials(None, None)
    assert failed and all(r.status == "failed" for r in failed)
    assert "rewrite safely" in failed[0].detail


def test_a_foreign_statement_named_like_ours_survives_the_denial_written_beside_it(
    world: World, bridge_for: Callable[..., Bridge]
) -> None:
    lookalike = {
        "Sid": "PimBridgeDenyContractors",
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
    }
    world.aws.client("sso-admin").put_inline_policy_to_permission_set(
        InstanceArn=world.aws.instance_arn,
        PermissionSetArn=world.permission_set_arn,
        InlinePolicy=json.dumps({"Version": "2012-10-17", "Statement": [lookalike]}),
    )
    bridge = bridge_for()
    cycle_after(world, bridge, "alice", "activate")
    cycle_after(world, bridge, "alice", "deactivate")

    written = json.loads(_inline_policy(world))["Statement"]
    assert written[0] == lookalike and len(written) == 2
    assert written[1]["Condition"]["StringEquals"] == {
        "identitystore:userId": world.ic_users["alice"]
    }
