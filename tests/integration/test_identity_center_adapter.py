"""AwsIdentityCenter against the AWS sandbox, over HTTP through boto3."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from bridge.errors import SinkError
from bridge.identity_center import AwsCallError, AwsIdentityCenter, Backoff
from bridge.model import AccountAssignment, GroupMembership
from bridge.sandbox.aws.sandbox import AwsSandbox
from tests.integration.aws_fixtures import (
    aws_credentials,
    aws_sandbox,
    identity_center,
    make_identity_center,
)

__all__ = ["aws_credentials", "aws_sandbox", "identity_center"]
pytestmark = pytest.mark.integration

ACCOUNT = "111111111111"


def test_adding_a_member_twice_leaves_one_membership(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    user = aws_sandbox.create_user("ada@example.com")
    group = aws_sandbox.create_group("AWS-Prod-Admin")

    identity_center.add(user, GroupMembership(group))
    identity_center.add(user, GroupMembership(group))

    assert aws_sandbox.members(group) == [user]
    assert identity_center.holders(GroupMembership(group)) == {user}


def test_removing_a_member_is_idempotent(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    user = aws_sandbox.create_user("ada@example.com")
    other = aws_sandbox.create_user("bob@example.com")
    group = aws_sandbox.create_group("AWS-Prod-Admin")
    aws_sandbox.add_member(group, user)
    aws_sandbox.add_member(group, other)

    identity_center.remove(user, GroupMembership(group))
    identity_center.remove(user, GroupMembership(group))

    assert aws_sandbox.members(group) == [other]


def test_assignment_returns_only_once_aws_reports_it_succeeded(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    user = aws_sandbox.create_user("ada@example.com")
    ps = aws_sandbox.create_permission_set("Admin")
    aws_sandbox.async_delay = 0.15

    identity_center.add(user, AccountAssignment(ACCOUNT, ps))

    assert aws_sandbox.assignments(ACCOUNT, ps) == [("USER", user)]
    assert aws_sandbox.calls["DescribeAccountAssignmentCreationStatus"] >= 2
    assert [r.status for r in aws_sandbox.requests()] == ["SUCCEEDED"]


def test_failed_assignment_raises_with_the_aws_failure_reason(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    user = aws_sandbox.create_user("ada@example.com")
    ps = aws_sandbox.create_permission_set("Admin")
    aws_sandbox.async_delay = 0.05
    aws_sandbox.fail_next_assignment(ACCOUNT, ps, reason="Account is suspended")

    with pytest.raises(SinkError, match="Account is suspended") as caught:
        identity_center.add(user, AccountAssignment(ACCOUNT, ps))

    assert not caught.value.temporary
    assert aws_sandbox.assignments(ACCOUNT, ps) == []


def test_adding_an_existing_assignment_sends_no_second_request(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    user = aws_sandbox.create_user("ada@example.com")
    ps = aws_sandbox.create_permission_set("Admin")

    identity_center.add(user, AccountAssignment(ACCOUNT, ps))
    identity_center.add(user, AccountAssignment(ACCOUNT, ps))

    assert aws_sandbox.calls["CreateAccountAssignment"] == 1
    assert aws_sandbox.assignments(ACCOUNT, ps) == [("USER", user)]


def test_assignment_conflicts_are_retried_until_the_write_goes_through(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    user = aws_sandbox.create_user("ada@example.com")
    ps = aws_sandbox.create_permission_set("Admin")
    aws_sandbox.conflict_next(3)

    identity_center.add(user, AccountAssignment(ACCOUNT, ps))
    aws_sandbox.conflict_next(2)
    identity_center.remove(user, AccountAssignment(ACCOUNT, ps))

    assert aws_sandbox.calls["CreateAccountAssignment"] == 4
    assert aws_sandbox.calls["DeleteAccountAssignment"] == 3
    assert aws_sandbox.assignments(ACCOUNT, ps) == []


def test_conflicts_that_never_end_surface_as_a_temporary_error(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    user = aws_sandbox.create_user("ada@example.com")
    ps = aws_sandbox.create_permission_set("Admin")
    aws_sandbox.conflict_next(100)

    with pytest.raises(AwsCallError) as caught:
        identity_center.add(user, AccountAssignment(ACCOUNT, ps))

    assert caught.value.code == "ConflictException"
    assert caught.value.temporary


def test_throttled_calls_are_retried_until_they_pass(aws_sandbox: AwsSandbox) -> None:
    group = aws_sandbox.create_group("AWS-Prod-Admin")
    users = [aws_sandbox.create_user(f"user{i}@example.com") for i in range(8)]
    aws_sandbox.set_rate_limit(4)
    # No client-side limit, so the sandbox has to throttle and the retries have to cope.
    ic = make_identity_center(
        aws_sandbox, calls_per_second=None, backoff=Backoff(base=0.05, cap=0.5, attempts=10)
    )

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda u: ic.add(u, GroupMembership(group)), users))

    assert aws_sandbox.throttled > 0
    assert sorted(aws_sandbox.members(group)) == sorted(users)


def test_client_side_rate_limit_keeps_under_the_aws_limit(aws_sandbox: AwsSandbox) -> None:
    group = aws_sandbox.create_group("AWS-Prod-Admin")
    aws_sandbox.set_rate_limit(12)
    ic = make_identity_center(aws_sandbox, calls_per_second=10)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: ic.holders(GroupMembership(group)), range(18)))

    assert aws_sandbox.calls["ListGroupMemberships"] == 18  # not one retried
    assert aws_sandbox.throttled == 0


def test_holders_lists_only_users_assigned_directly(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    user = aws_sandbox.create_user("ada@example.com")
    group = aws_sandbox.create_group("Everyone")
    ps = aws_sandbox.create_permission_set("Admin")
    aws_sandbox.assign(ACCOUNT, ps, user)
    aws_sandbox.assign(ACCOUNT, ps, group, principal_type="GROUP")
    aws_sandbox.assign("222222222222", ps, aws_sandbox.create_user("bob@example.com"))

    assert identity_center.holders(AccountAssignment(ACCOUNT, ps)) == {user}


def assigned_user(aws_sandbox: AwsSandbox) -> tuple[str, str]:
    user = aws_sandbox.create_user("ada@example.com")
    ps = aws_sandbox.create_permission_set("Admin")
    aws_sandbox.assign(ACCOUNT, ps, user)
    return user, ps


def test_removing_an_assignment_waits_for_the_deletion(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    user, ps = assigned_user(aws_sandbox)
    aws_sandbox.async_delay = 0.1

    identity_center.remove(user, AccountAssignment(ACCOUNT, ps))
    assert aws_sandbox.assignments(ACCOUNT, ps) == []
    # Removing what is already gone is the goal reached, not an error.
    identity_center.remove(user, AccountAssignment(ACCOUNT, ps))

    assert aws_sandbox.assignments(ACCOUNT, ps) == []
    # No listing before a deletion: the instance's 20 calls/s go to the deletions themselves.
    assert aws_sandbox.calls["ListAccountAssignments"] == 0


def test_a_failed_deletion_raises_while_the_assignment_remains(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    user, ps = assigned_user(aws_sandbox)
    aws_sandbox.fail_next_assignment(ACCOUNT, ps, deletion=True, reason="Internal failure")

    with pytest.raises(SinkError, match="Internal failure"):
        identity_center.remove(user, AccountAssignment(ACCOUNT, ps))
    assert aws_sandbox.assignments(ACCOUNT, ps) == [("USER", user)]


def added_member(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> tuple[str, GroupMembership]:
    user = aws_sandbox.create_user("ada@example.com")
    target = GroupMembership(aws_sandbox.create_group("ops"))
    identity_center.add(user, target)
    return user, target


def test_removing_a_member_twice_costs_one_call_each_after_the_add(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    user, target = added_member(aws_sandbox, identity_center)

    identity_center.remove(user, target)
    assert identity_center.holders(target) == set()
    # The id came back with the creation: no lookup before the deletion.
    assert aws_sandbox.calls["GetGroupMembershipId"] == 0
    identity_center.remove(user, target)
    assert aws_sandbox.calls["DeleteGroupMembership"] == 1


def test_a_membership_re_created_out_of_band_is_still_removed(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    user, target = added_member(aws_sandbox, identity_center)
    ids = aws_sandbox.client("identitystore")
    store = {"IdentityStoreId": aws_sandbox.identity_store_id}
    member = {"GroupId": target.group_id, "MemberId": {"UserId": user}}
    old = ids.get_group_membership_id(**store, **member)
    ids.delete_group_membership(**store, MembershipId=old["MembershipId"])
    ids.create_group_membership(**store, **member)

    identity_center.remove(user, target)

    assert identity_center.holders(target) == set()


def test_unknown_user_is_none_and_the_miss_is_remembered(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    ada = aws_sandbox.create_user("ada@example.com", email="ada.l@example.com")

    assert identity_center.find_user_id("userName", "nobody@example.com") is None
    assert identity_center.find_user_id("userName", "nobody@example.com") is None
    assert identity_center.find_user_id("userName", "ada@example.com") == ada
    assert identity_center.find_user_id("emails.value", "ada.l@example.com") == ada
    assert aws_sandbox.calls["GetUserId"] == 3


def test_groups_resolve_by_display_name_or_by_id(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    group = aws_sandbox.create_group("AWS-Prod-Admin")

    assert identity_center.resolve_group("AWS-Prod-Admin") == group
    assert identity_center.resolve_group(group) == group
    with pytest.raises(SinkError, match="AWS-Nope") as caught:
        identity_center.resolve_group("AWS-Nope")
    assert not caught.value.temporary


def test_permission_sets_resolve_by_name_or_arn(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    admin = aws_sandbox.create_permission_set("AdministratorAccess")
    aws_sandbox.create_permission_set("ReadOnly")

    assert identity_center.resolve_permission_set("AdministratorAccess") == admin
    assert identity_center.resolve_permission_set(admin) == admin
    late = aws_sandbox.create_permission_set("CreatedLater")
    assert identity_center.resolve_permission_set("CreatedLater") == late


def test_unknown_permission_set_name_is_a_permanent_sink_error(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    aws_sandbox.create_permission_set("ReadOnly")

    with pytest.raises(SinkError, match="AdministratorAccess") as caught:
        identity_center.resolve_permission_set("AdministratorAccess")
    assert not caught.value.temporary
    with pytest.raises(SinkError):
        identity_center.resolve_permission_set(aws_sandbox.instance_arn + "/ps-0000000000000000")


def test_provisioning_waits_for_the_status_and_records_the_account(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    ps = aws_sandbox.create_permission_set("Admin", session_duration="PT2H30M")
    aws_sandbox.assign(ACCOUNT, ps, aws_sandbox.create_user("ada@example.com"))
    aws_sandbox.async_delay = 0.1

    identity_center.provision(ps, "222222222222")

    assert aws_sandbox.calls["DescribePermissionSetProvisioningStatus"] >= 2
    assert identity_center.assigned_accounts(ps) == [ACCOUNT, "222222222222"]
    assert identity_center.session_duration(ps) == timedelta(hours=2, minutes=30)


def test_failed_provisioning_raises(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    ps = aws_sandbox.create_permission_set("Admin")
    aws_sandbox.fail_next_provisioning(ACCOUNT, ps, reason="Policy too large")

    with pytest.raises(SinkError, match="Policy too large"):
        identity_center.provision(ps, ACCOUNT)


def test_inline_policy_round_trips_byte_for_byte(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    ps = aws_sandbox.create_permission_set("Admin")
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
        },
        indent=1,
    )

    assert identity_center.get_inline_policy(ps) == ""
    identity_center.put_inline_policy(ps, document)
    assert identity_center.get_inline_policy(ps) == document
    identity_center.put_inline_policy(ps, "")
    assert identity_center.get_inline_policy(ps) == ""


def test_check_names_the_instance_and_store(
    aws_sandbox: AwsSandbox, identity_center: AwsIdentityCenter
) -> None:
    line = identity_center.check()

    assert aws_sandbox.identity_store_id in line
    assert aws_sandbox.instance_arn.rsplit("/", 1)[-1] in line


def test_check_fails_when_the_identity_store_is_not_the_instances(
    aws_sandbox: AwsSandbox,
) -> None:
    ic = AwsIdentityCenter(aws_sandbox.aws_config(identity_store_id="d-0000000000"))

    with pytest.raises(SinkError, match="d-0000000000"):
        ic.check()


def test_unreachable_endpoint_is_a_temporary_sink_error(aws_credentials: None) -> None:
    sandbox = AwsSandbox().start()
    config = sandbox.aws_config()
    sandbox.stop()
    ic = AwsIdentityCenter(config, backoff=Backoff(base=0.001, cap=0.001, attempts=2))

    with pytest.raises(SinkError) as caught:
        ic.holders(GroupMembership("g"))
    assert caught.value.temporary


def test_assumed_role_credentials_reach_the_sandbox(aws_sandbox: AwsSandbox) -> None:
    config = aws_sandbox.aws_config(role_arn="arn:aws:iam::123456789012:role/pim-bridge")
    ic = AwsIdentityCenter(config)

    assert aws_sandbox.identity_store_id in ic.check()
