"""The one mapping of AWS's ResourceNotFoundException: an answer for a lookup, the goal reached
for a deletion, a permanent error for a name that resolves to nothing, and never a cover for
any other failure. Against fake clients, on virtual time."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from bridge.config import AwsConfig
from bridge.errors import SinkError
from bridge.identity_center import AwsCallError, AwsIdentityCenter, Backoff
from bridge.identity_center.api import InstanceApi
from bridge.identity_center.calls import (
    NOT_FOUND,
    CallPolicy,
    found_or_none,
    is_not_found,
    not_found,
)
from bridge.model import AccountAssignment, GroupMembership

AWS = AwsConfig(
    identity_store_id="d-1234567890",
    instance_arn="arn:aws:sso:::instance/ssoins-1234567890abcdef",
)
PS = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-1234567890abcdef"
GROUP = "9a6732c4-c0a1-70c3-4a0e-1a2b3c4d5e6f"


def client_error(code: str, operation: str = "GetUserId") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} here"}, "ResponseMetadata": {}}, operation
    )


Answer = dict[str, Any] | Exception | Callable[..., dict[str, Any]]


class FakeClient:
    """Answers each operation (boto3's snake_case name) from `answers`: a dict is returned, an
    exception raised, a callable called with the request. Every request is kept in `calls`."""

    def __init__(self, **answers: Answer) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Callable[..., dict[str, Any]]:
        if operation not in self.answers:
            raise AttributeError(operation)

        def call(**request: Any) -> dict[str, Any]:
            self.calls.append((operation, request))
            answer = self.answers[operation]
            if isinstance(answer, Exception):
                raise answer
            return answer(**request) if callable(answer) else answer

        return call

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)


def adapter(ids: FakeClient | None = None, sso: FakeClient | None = None) -> AwsIdentityCenter:
    clients: dict[str, Any] = {
        "identitystore": ids or FakeClient(),
        "sso-admin": sso or FakeClient(),
    }
    return AwsIdentityCenter(
        AWS,
        client_factory=clients.__getitem__,
        calls_per_second=None,
        backoff=Backoff(base=0.001, cap=0.001, attempts=3),
        sleep=lambda _: None,
    )


# -- the mapping itself -----------------------------------------------------------------------


def test_a_not_found_answer_is_none() -> None:
    def missing() -> dict[str, Any]:
        raise client_error(NOT_FOUND)

    assert found_or_none(missing) is None
    assert found_or_none(lambda: {"UserId": "u-1"}) == {"UserId": "u-1"}


@pytest.mark.parametrize(
    "error",
    [
        client_error("AccessDeniedException"),
        client_error("ThrottlingException"),
        client_error("ValidationException"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        AwsCallError("DeleteAccountAssignment", "FAILED", "request failed", temporary=False),
    ],
)
def test_every_other_failure_goes_through_as_it_is(error: Exception) -> None:
    def failing() -> dict[str, Any]:
        raise error

    with pytest.raises(type(error)) as caught:
        found_or_none(failing)
    assert caught.value is error
    assert not is_not_found(error)


def test_only_a_client_error_with_the_not_found_code_is_not_found() -> None:
    assert is_not_found(client_error(NOT_FOUND))
    # Already translated: a SinkError for the caller, no longer an answer to take as "none".
    assert not is_not_found(not_found("GetGroupId", "no group"))


def test_a_name_that_resolves_to_nothing_is_a_permanent_sink_error() -> None:
    err = not_found("GetGroupId", "no Identity Center group with id or display name 'ops'")

    assert isinstance(err, SinkError)
    assert err.code == NOT_FOUND
    assert err.operation == "GetGroupId"
    assert not err.temporary
    assert str(err) == (
        "GetGroupId failed: ResourceNotFoundException: "
        "no Identity Center group with id or display name 'ops'"
    )


def test_find_retries_a_throttled_call_and_then_maps_its_not_found() -> None:
    errors = [client_error("ThrottlingException"), client_error(NOT_FOUND)]

    def get_user_id(**_: Any) -> dict[str, Any]:
        raise errors.pop(0)

    ids = FakeClient(get_user_id=get_user_id)
    policy = CallPolicy(
        calls_per_second=None, backoff=Backoff(), sleep=lambda _: None, rng=random.Random(1)
    )
    clients: dict[str, Any] = {"identitystore": ids, "sso-admin": FakeClient()}
    api = InstanceApi(AWS, clients.__getitem__, policy, sleep=lambda _: None, clock=lambda: 0.0)

    assert api.find("GetUserId", ids.get_user_id) is None
    assert ids.count("get_user_id") == 2
    assert policy.retries == 1


# -- where the parts rely on it ---------------------------------------------------------------


def test_an_unknown_user_is_none_and_remembered() -> None:
    ids = FakeClient(get_user_id=client_error(NOT_FOUND))
    ic = adapter(ids)

    assert ic.find_user_id("userName", "nobody@example.com") is None
    assert ic.find_user_id("userName", "nobody@example.com") is None
    assert ids.count("get_user_id") == 1


def test_an_unknown_group_is_a_permanent_error_naming_it() -> None:
    ids = FakeClient(
        describe_group=client_error(NOT_FOUND, "DescribeGroup"),
        get_group_id=client_error(NOT_FOUND, "GetGroupId"),
    )

    with pytest.raises(AwsCallError, match=GROUP) as caught:
        adapter(ids).resolve_group(GROUP)
    assert (caught.value.code, caught.value.temporary) == (NOT_FOUND, False)
    # An id not found is tried as a display name before giving up.
    assert [name for name, _ in ids.calls] == ["describe_group", "get_group_id"]


def test_an_unknown_permission_set_arn_is_a_permanent_error_naming_it() -> None:
    sso = FakeClient(describe_permission_set=client_error(NOT_FOUND, "DescribePermissionSet"))

    with pytest.raises(AwsCallError, match="no permission set arn:") as caught:
        adapter(sso=sso).resolve_permission_set(PS)
    assert (caught.value.code, caught.value.temporary) == (NOT_FOUND, False)


def test_removing_a_user_who_is_no_member_deletes_nothing() -> None:
    ids = FakeClient(
        get_group_membership_id=client_error(NOT_FOUND, "GetGroupMembershipId"),
        delete_group_membership={},
    )

    adapter(ids).remove("u-1", GroupMembership(GROUP))

    assert ids.count("delete_group_membership") == 0


def test_a_known_membership_gone_since_is_looked_up_afresh_and_removed() -> None:
    deletions: list[str] = []

    def delete(**request: Any) -> dict[str, Any]:
        deletions.append(request["MembershipId"])
        if request["MembershipId"] == "m-old":
            raise client_error(NOT_FOUND, "DeleteGroupMembership")
        return {}

    ids = FakeClient(
        create_group_membership={"MembershipId": "m-old"},
        get_group_membership_id={"MembershipId": "m-new"},
        delete_group_membership=delete,
    )
    ic = adapter(ids)
    ic.add("u-1", GroupMembership(GROUP))

    ic.remove("u-1", GroupMembership(GROUP))

    assert deletions == ["m-old", "m-new"]


def test_removing_an_assignment_aws_does_not_know_is_the_goal_reached() -> None:
    sso = FakeClient(
        delete_account_assignment=client_error(NOT_FOUND, "DeleteAccountAssignment"),
        list_account_assignments={"AccountAssignments": []},
    )

    adapter(sso=sso).remove("u-1", AccountAssignment("111111111111", PS))

    assert sso.count("delete_account_assignment") == 1
    assert sso.count("list_account_assignments") == 0  # no listing to confirm it


def test_other_failures_of_a_lookup_or_a_removal_are_not_taken_for_not_found() -> None:
    ids = FakeClient(
        get_user_id=client_error("AccessDeniedException"),
        get_group_membership_id=client_error("AccessDeniedException", "GetGroupMembershipId"),
    )
    ic = adapter(ids)

    with pytest.raises(AwsCallError) as lookup:
        ic.find_user_id("userName", "ada@example.com")
    with pytest.raises(AwsCallError) as removal:
        ic.remove("u-1", GroupMembership(GROUP))

    assert lookup.value.code == removal.value.code == "AccessDeniedException"
    assert not lookup.value.temporary
