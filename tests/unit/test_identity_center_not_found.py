"""The one mapping of AWS's ResourceNotFoundException: an answer for a lookup, the goal reached
for a deletion, a permanent error for a name that resolves to nothing, and never a cover for
any other failure."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from bridge.errors import SinkError
from bridge.identity_center import AwsCallError
from bridge.identity_center.calls import NOT_FOUND, found_or_none, is_not_found, not_found


def client_error(code: str, operation: str = "GetUserId") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} here"}, "ResponseMetadata": {}}, operation
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
