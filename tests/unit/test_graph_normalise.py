"""Graph payloads (Microsoft's documented examples) to PimInstance."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bridge.graph.normalise import (
    SINCE_EVER,
    MalformedItem,
    parse_datetime,
    parse_instance,
    schedule_requests,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "graph"
GROUP = "2b5ed229-4072-478d-9504-a047ebd4b07d"


def body(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())["response"]["body"]


def test_documented_listing_reads_with_lowercase_enums_and_utc_times() -> None:
    first, permanent = (
        parse_instance(i, GROUP)
        for i in body("pim-group-assignmentScheduleInstances-list")["value"]
    )

    assert (first.assignment_type, first.member_type, first.access_id) == (
        "assigned",
        "direct",
        "member",
    )
    assert first.start == datetime(2023, 9, 29, 15, 48, 0, 273000, tzinfo=UTC)
    assert first.end == datetime(2024, 3, 27, 15, 47, 19, 653000, tzinfo=UTC)
    assert first.principal_type == "unknown" and first.principal == {}
    # A permanent assignment: Graph gives no start and no end.
    assert permanent.start == SINCE_EVER and permanent.end is None


def test_single_instance_get_reads_the_same_way() -> None:
    inst = parse_instance(body("pim-group-assignmentScheduleInstance-get"), GROUP)
    assert inst.id == "48fe5560-de56-2750-ae7c-2bbf1da9e452"
    assert inst.assignment_type == "assigned"


def test_request_enriches_the_instance_of_its_target_schedule() -> None:
    requests = schedule_requests(body("pim-group-assignmentScheduleRequests-list")["value"])
    item = {
        **body("pim-group-assignmentScheduleInstances-list")["value"][0],
        "assignmentScheduleId": f"{GROUP}_member_6aacaee8-4089-4048-9510-3119367fc943",
    }
    names = {"3cce9d87-3986-4f19-8335-7ed075408ca2": "admin@contoso.com"}

    inst = parse_instance(item, GROUP, requests, names)
    unrelated = parse_instance(
        body("pim-group-assignmentScheduleInstances-list")["value"][1], GROUP, requests, names
    )

    assert inst.justification == "Retrieve requests"
    assert inst.approver == "admin@contoso.com"  # adminAssign: createdBy is the approver
    assert inst.ticket is None  # ticketInfo.ticketNumber is null in the example
    assert unrelated.justification is None and unrelated.approver is None


def test_self_activation_has_no_approver_and_admin_assignment_falls_back_to_the_id() -> None:
    activate = body("pim-group-assignmentScheduleRequests-create-selfActivate")
    assign = body("pim-group-assignmentScheduleRequests-create-adminAssign")

    (self_info,) = schedule_requests([activate]).values()
    (admin_info,) = schedule_requests([assign]).values()

    assert self_info.creator_id is None and self_info.justification == "Activate assignment."
    item = {
        **body("pim-group-assignmentScheduleInstance-get"),
        "groupId": assign["groupId"],
        "assignmentScheduleId": assign["targetScheduleId"],
    }
    inst = parse_instance(item, assign["groupId"], schedule_requests([assign]))
    assert inst.approver == admin_info.creator_id == "3cce9d87-3986-4f19-8335-7ed075408ca2"


def test_extension_reason_follows_the_activation_reason_and_failed_requests_add_none() -> None:
    base = body("pim-group-assignmentScheduleRequests-create-selfActivate")
    extend = {
        **base,
        "action": "selfExtend",
        "justification": "longer",
        "createdDateTime": "2023-02-07T08:00:00Z",
    }
    denied = {
        **base,
        "action": "selfExtend",
        "justification": "nope",
        "status": "Denied",
        "createdDateTime": "2023-02-07T09:00:00Z",
    }
    deactivate = {
        **base,
        "action": "selfDeactivate",
        "justification": "done",
        "createdDateTime": "2023-02-07T10:00:00Z",
    }

    (info,) = schedule_requests([extend, base, denied, deactivate]).values()

    assert info.justification == "Activate assignment. | longer"


@pytest.mark.parametrize("casing", [str.lower, str.capitalize, str.upper])
def test_enum_values_are_read_in_any_casing(casing: Any) -> None:
    item = {
        **body("pim-group-assignmentScheduleInstance-get"),
        "assignmentType": casing("activated"),
        "memberType": casing("group"),
    }
    inst = parse_instance(item, GROUP)
    assert (inst.assignment_type, inst.member_type) == ("activated", "group")


def test_expanded_principal_gives_type_and_attributes() -> None:
    item = {
        **body("pim-group-assignmentScheduleInstance-get"),
        "principal": {
            "@odata.type": "#microsoft.graph.user",
            "id": "3cce9d87-3986-4f19-8335-7ed075408ca2",
            "userPrincipalName": "alice@contoso.com",
            "mail": None,
            "displayName": "Alice",
        },
    }
    inst = parse_instance(item, GROUP)
    assert inst.principal_type == "user"
    assert inst.principal == {"userPrincipalName": "alice@contoso.com", "displayName": "Alice"}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"principalId": None}, "principalId"),
        ({"assignmentType": ""}, "assignmentType"),
        ({"assignmentType": "eligible"}, "assignmentType"),
        ({"accessId": "admin"}, "accessId"),
        ({"groupId": "another-group"}, "another-group"),
        ({"endDateTime": "tomorrow"}, "timestamp"),
    ],
)
def test_unsafe_items_are_malformed_not_guessed(change: dict[str, Any], reason: str) -> None:
    item = {**body("pim-group-assignmentScheduleInstance-get"), **change}
    with pytest.raises(MalformedItem, match=reason):
        parse_instance(item, GROUP)


def test_graph_timestamps_become_aware_utc() -> None:
    assert parse_datetime("2023-02-07T07:05:55.3404527Z") == datetime(
        2023, 2, 7, 7, 5, 55, 340452, tzinfo=UTC
    )
    assert parse_datetime("2023-02-07T09:05:55+02:00") == datetime(2023, 2, 7, 7, 5, 55, tzinfo=UTC)
    assert parse_datetime("2023-02-07T07:05:55").tzinfo is UTC  # type: ignore[union-attr]
    assert parse_datetime(None) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("endDateTime", "9999-12-31T23:30:00-01:00"),  # year 10000 in UTC
        ("startDateTime", "0001-01-01T00:00:00+01:00"),  # year 0 in UTC
    ],
)
def test_a_timestamp_utc_cannot_hold_makes_the_item_malformed_not_an_overflow(
    field: str, value: str
) -> None:
    item = {**body("pim-group-assignmentScheduleInstance-get"), field: value}
    with pytest.raises(MalformedItem, match="out of range"):
        parse_instance(item, GROUP)


def test_the_extremes_utc_can_hold_still_read() -> None:
    assert parse_datetime("0001-01-01T00:00:00Z") == datetime(1, 1, 1, tzinfo=UTC)
    assert parse_datetime("9999-12-31T23:59:59Z") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
