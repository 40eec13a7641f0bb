"""The AWS sandbox's extensions to moto, seen through plain boto3 over HTTP."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from bridge.sandbox.aws.sandbox import AwsSandbox
from tests.integration.aws_fixtures import aws_credentials, aws_sandbox

__all__ = ["aws_credentials", "aws_sandbox"]
pytestmark = pytest.mark.integration

ACCOUNT = "111111111111"


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_provisioning_is_in_progress_until_the_delay_passes(aws_sandbox: AwsSandbox) -> None:
    sso = aws_sandbox.client("sso-admin")
    ps = aws_sandbox.create_permission_set("Admin")
    aws_sandbox.async_delay = 0.1

    started = sso.provision_permission_set(
        InstanceArn=aws_sandbox.instance_arn,
        PermissionSetArn=ps,
        TargetType="AWS_ACCOUNT",
        TargetId=ACCOUNT,
    )["PermissionSetProvisioningStatus"]

    def status() -> str:
        return str(
            sso.describe_permission_set_provisioning_status(
                InstanceArn=aws_sandbox.instance_arn,
                ProvisionPermissionSetRequestId=started["RequestId"],
            )["PermissionSetProvisioningStatus"]["Status"]
        )

    assert started["Status"] == "IN_PROGRESS"
    assert status() == "IN_PROGRESS"
    time.sleep(0.15)
    assert status() == "SUCCEEDED"
    accounts = sso.list_accounts_for_provisioned_permission_set(
        InstanceArn=aws_sandbox.instance_arn, PermissionSetArn=ps
    )["AccountIds"]
    assert accounts == [ACCOUNT]


def test_unknown_provisioning_request_is_not_found(aws_sandbox: AwsSandbox) -> None:
    with pytest.raises(ClientError) as caught:
        aws_sandbox.client("sso-admin").describe_permission_set_provisioning_status(
            InstanceArn=aws_sandbox.instance_arn,
            ProvisionPermissionSetRequestId="00000000-0000-4000-8000-000000000000",
        )
    assert _code(caught) == "ResourceNotFoundException"


def test_permission_set_tags_can_be_listed_added_and_removed(aws_sandbox: AwsSandbox) -> None:
    sso = aws_sandbox.client("sso-admin")
    ps = sso.create_permission_set(
        InstanceArn=aws_sandbox.instance_arn, Name="Admin", Tags=[{"Key": "owner", "Value": "a"}]
    )["PermissionSet"]["PermissionSetArn"]
    ref = {"InstanceArn": aws_sandbox.instance_arn, "ResourceArn": ps}

    sso.tag_resource(**ref, Tags=[{"Key": "owner", "Value": "b"}, {"Key": "env", "Value": "prod"}])
    sso.untag_resource(**ref, TagKeys=["env"])

    assert sso.list_tags_for_resource(**ref)["Tags"] == [{"Key": "owner", "Value": "b"}]


def test_permission_set_boundary_can_be_put_read_back_and_deleted(
    aws_sandbox: AwsSandbox,
) -> None:
    sso = aws_sandbox.client("sso-admin")
    ref = {
        "InstanceArn": aws_sandbox.instance_arn,
        "PermissionSetArn": aws_sandbox.create_permission_set("Admin"),
    }
    with pytest.raises(ClientError) as unset:
        sso.get_permissions_boundary_for_permission_set(**ref)

    sso.put_permissions_boundary_to_permission_set(
        **ref, PermissionsBoundary={"CustomerManagedPolicyReference": {"Name": "pim-boundary"}}
    )
    assert sso.get_permissions_boundary_for_permission_set(**ref)["PermissionsBoundary"] == {
        "CustomerManagedPolicyReference": {"Name": "pim-boundary", "Path": "/"}
    }
    managed = "arn:aws:iam::aws:policy/PowerUserAccess"
    sso.put_permissions_boundary_to_permission_set(
        **ref, PermissionsBoundary={"ManagedPolicyArn": managed}
    )
    assert sso.get_permissions_boundary_for_permission_set(**ref)["PermissionsBoundary"] == {
        "ManagedPolicyArn": managed
    }
    sso.delete_permissions_boundary_from_permission_set(**ref)
    with pytest.raises(ClientError) as deleted:
        sso.get_permissions_boundary_for_permission_set(**ref)

    assert _code(unset) == _code(deleted) == "ResourceNotFoundException"


def test_boundary_of_both_kinds_at_once_is_refused(aws_sandbox: AwsSandbox) -> None:
    with pytest.raises(ClientError) as caught:
        aws_sandbox.client("sso-admin").put_permissions_boundary_to_permission_set(
            InstanceArn=aws_sandbox.instance_arn,
            PermissionSetArn=aws_sandbox.create_permission_set("Admin"),
            PermissionsBoundary={
                "ManagedPolicyArn": "arn:aws:iam::aws:policy/PowerUserAccess",
                "CustomerManagedPolicyReference": {"Name": "pim-boundary"},
            },
        )
    assert _code(caught) == "ValidationException"


def test_duplicate_assignment_is_accepted_but_listed_once(aws_sandbox: AwsSandbox) -> None:
    user = aws_sandbox.create_user("ada@example.com")
    ps = aws_sandbox.create_permission_set("Admin")

    aws_sandbox.assign(ACCOUNT, ps, user)
    aws_sandbox.assign(ACCOUNT, ps, user)

    assert aws_sandbox.assignments(ACCOUNT, ps) == [("USER", user)]


def test_moto_behaviour_of_listing_duplicates_can_be_kept(aws_credentials: None) -> None:
    with AwsSandbox(dedupe_assignments=False) as sandbox:
        user = sandbox.create_user("ada@example.com")
        ps = sandbox.create_permission_set("Admin")
        sandbox.assign(ACCOUNT, ps, user)
        sandbox.assign(ACCOUNT, ps, user)

        assert sandbox.assignments(ACCOUNT, ps) == [("USER", user), ("USER", user)]


def test_assignment_appears_only_when_its_request_succeeds(aws_sandbox: AwsSandbox) -> None:
    sso = aws_sandbox.client("sso-admin")
    user = aws_sandbox.create_user("ada@example.com")
    ps = aws_sandbox.create_permission_set("Admin")
    aws_sandbox.async_delay = 0.1
    args = {
        "InstanceArn": aws_sandbox.instance_arn,
        "TargetId": ACCOUNT,
        "TargetType": "AWS_ACCOUNT",
        "PermissionSetArn": ps,
        "PrincipalType": "USER",
        "PrincipalId": user,
    }

    sso.create_account_assignment(**args)
    with pytest.raises(ClientError) as caught:
        sso.create_account_assignment(**args)

    assert _code(caught) == "ConflictException"
    assert aws_sandbox.assignments(ACCOUNT, ps) == []
    time.sleep(0.15)
    assert aws_sandbox.assignments(ACCOUNT, ps) == [("USER", user)]


def test_planned_failure_hits_only_the_matching_request(aws_sandbox: AwsSandbox) -> None:
    user = aws_sandbox.create_user("ada@example.com")
    admin = aws_sandbox.create_permission_set("Admin")
    read = aws_sandbox.create_permission_set("ReadOnly")
    aws_sandbox.fail_next_assignment(permission_set_arn=admin, reason="No quota")
    sso = aws_sandbox.client("sso-admin")

    def create(ps: str) -> dict[str, str]:
        return dict(
            sso.create_account_assignment(
                InstanceArn=aws_sandbox.instance_arn,
                TargetId=ACCOUNT,
                TargetType="AWS_ACCOUNT",
                PermissionSetArn=ps,
                PrincipalType="USER",
                PrincipalId=user,
            )["AccountAssignmentCreationStatus"]
        )

    assert create(read)["Status"] == "SUCCEEDED"
    failed = create(admin)
    assert (failed["Status"], failed["FailureReason"]) == ("FAILED", "No quota")
    assert create(admin)["Status"] == "SUCCEEDED"


def test_over_the_rate_limit_calls_are_throttled_like_aws(aws_sandbox: AwsSandbox) -> None:
    ids = aws_sandbox.client("identitystore")
    aws_sandbox.set_rate_limit(3)

    codes = []
    for _ in range(6):
        try:
            ids.list_groups(IdentityStoreId=aws_sandbox.identity_store_id)
            codes.append("ok")
        except ClientError as exc:
            codes.append(exc.response["Error"]["Code"])

    assert codes[:3] == ["ok"] * 3
    assert "ThrottlingException" in codes[3:]
    assert aws_sandbox.calls["ListGroups"] == 6


def test_seeding_is_not_counted_delayed_or_throttled(aws_sandbox: AwsSandbox) -> None:
    aws_sandbox.set_rate_limit(1)
    aws_sandbox.latency = 0.5
    started = time.monotonic()

    for i in range(5):
        aws_sandbox.create_user(f"user{i}@example.com")

    assert time.monotonic() - started < 0.5
    assert sum(aws_sandbox.calls.values()) == 0


def test_latency_is_added_to_every_call(aws_sandbox: AwsSandbox) -> None:
    ids = aws_sandbox.client("identitystore")
    aws_sandbox.latency = 0.1
    started = time.monotonic()

    ids.list_groups(IdentityStoreId=aws_sandbox.identity_store_id)
    ids.list_groups(IdentityStoreId=aws_sandbox.identity_store_id)

    assert time.monotonic() - started >= 0.2


def test_group_membership_duplicates_and_unknown_deletes_fail_like_aws(
    aws_sandbox: AwsSandbox,
) -> None:
    ids = aws_sandbox.client("identitystore")
    user = aws_sandbox.create_user("ada@example.com")
    group = aws_sandbox.create_group("G")
    aws_sandbox.add_member(group, user)
    store = aws_sandbox.identity_store_id

    with pytest.raises(ClientError) as duplicate:
        ids.create_group_membership(IdentityStoreId=store, GroupId=group, MemberId={"UserId": user})
    with pytest.raises(ClientError) as unknown:
        ids.delete_group_membership(IdentityStoreId=store, MembershipId="nope")

    assert _code(duplicate) == "ConflictException"
    assert _code(unknown) == "ResourceNotFoundException"
    assert aws_sandbox.members(group) == [user]


def test_group_display_name_and_description_can_be_updated(aws_sandbox: AwsSandbox) -> None:
    ids = aws_sandbox.client("identitystore")
    group = aws_sandbox.create_group("Old", description="before")
    store = aws_sandbox.identity_store_id

    ids.update_group(
        IdentityStoreId=store,
        GroupId=group,
        Operations=[
            {"AttributePath": "displayName", "AttributeValue": "New"},
            {"AttributePath": "description", "AttributeValue": "after"},
        ],
    )

    described = ids.describe_group(IdentityStoreId=store, GroupId=group)
    assert (described["DisplayName"], described["Description"]) == ("New", "after")


def test_describe_instance_names_the_identity_store(aws_sandbox: AwsSandbox) -> None:
    instance = aws_sandbox.client("sso-admin").describe_instance(
        InstanceArn=aws_sandbox.instance_arn
    )

    assert instance["IdentityStoreId"] == aws_sandbox.identity_store_id
    assert instance["Status"] == "ACTIVE"


def test_two_sandboxes_in_one_process_do_not_share_data(
    aws_sandbox: AwsSandbox, aws_credentials: None
) -> None:
    aws_sandbox.create_group("Only-In-First")

    with AwsSandbox() as other:
        groups = other.client("identitystore").list_groups(IdentityStoreId=other.identity_store_id)[
            "Groups"
        ]

    assert other.instance_arn != aws_sandbox.instance_arn
    assert groups == []
