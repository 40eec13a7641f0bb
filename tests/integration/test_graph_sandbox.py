"""The Graph sandbox answers like Graph: shapes, validation errors and faults, over raw HTTP."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.sandbox.graph.actor import GraphActorError
from bridge.sandbox.graph.sandbox import GraphSandbox
from tests.fakes import FakeClock

pytest_plugins = ("tests.integration.graph_fixtures",)

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).parent.parent / "fixtures" / "graph"
INSTANCES = "/identityGovernance/privilegedAccess/group/assignmentScheduleInstances"
REQUESTS = "/identityGovernance/privilegedAccess/group/assignmentScheduleRequests"


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text())["response"])


def client(sb: GraphSandbox, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token or sb.token}"}
    return httpx.Client(base_url=sb.url, headers=headers, verify=False)


def eligible_user(sb: GraphSandbox) -> tuple[str, str]:
    group, user = sb.add_group("g"), sb.add_user("alice@contoso.test")
    sb.add_eligibility(user, group)
    return group, user


def test_listing_without_a_group_or_principal_filter_is_refused(
    graph_sandbox: GraphSandbox,
) -> None:
    with client(graph_sandbox) as c:
        for path in (INSTANCES, REQUESTS):
            r = c.get(path)
            assert r.status_code == 400
            assert r.json()["error"]["code"] == "BadRequest"
            assert c.get(path, params={"$filter": "accessId eq 'member'"}).status_code == 400


def test_unknown_or_missing_token_is_401_with_graph_envelope(graph_sandbox: GraphSandbox) -> None:
    query = {"$filter": "groupId eq 'x'"}
    with client(graph_sandbox, token="wrong") as c:
        r = c.get(INSTANCES, params=query)
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert httpx.get(graph_sandbox.url + INSTANCES, params=query).status_code == 401


def test_listed_instance_has_the_documented_properties(graph_sandbox: GraphSandbox) -> None:
    group, user = eligible_user(graph_sandbox)
    graph_sandbox.actor().activate(user, group, timedelta(hours=2), "why")
    documented = sample("pim-group-assignmentScheduleInstances-list")["body"]

    with client(graph_sandbox) as c:
        body = c.get(INSTANCES, params={"$filter": f"groupId eq '{group}'"}).json()

    assert body["@odata.context"].endswith(documented["@odata.context"].rsplit("/v1.0", 1)[1])
    (item,) = body["value"]
    assert set(item) == set(documented["value"][0])
    assert item["startDateTime"] == "2026-11-24T12:00:00.000Z"
    assert item["endDateTime"] == "2026-11-24T14:00:00.000Z"


def test_requests_listing_carries_the_audit_fields(graph_sandbox: GraphSandbox) -> None:
    group, user = eligible_user(graph_sandbox)
    graph_sandbox.actor().activate(user, group, timedelta(hours=1), "INC-1", ticket="INC-1")
    documented = sample("pim-group-assignmentScheduleRequests-list")["body"]["value"][0]

    with client(graph_sandbox) as c:
        (item,) = c.get(REQUESTS, params={"$filter": f"principalId eq '{user}'"}).json()["value"]

    assert set(documented) <= set(item)
    assert item["action"] == "selfActivate" and item["createdBy"] == {"user": {"id": user}}
    assert item["ticketInfo"]["ticketNumber"] == "INC-1"
    assert item["scheduleInfo"]["expiration"] == {"type": "afterDuration", "duration": "PT1H"}


def test_activation_needs_eligibility(graph_sandbox: GraphSandbox) -> None:
    group, user = graph_sandbox.add_group("g"), graph_sandbox.add_user("eve@contoso.test")
    with pytest.raises(GraphActorError) as refused:
        graph_sandbox.actor().activate(user, group, timedelta(hours=1), "let me in")
    assert refused.value.status == 400
    assert refused.value.code == "RoleAssignmentRequestPolicyValidationFailed"


def test_activating_twice_is_refused_and_deactivating_nothing_too(
    graph_sandbox: GraphSandbox,
) -> None:
    group, user = eligible_user(graph_sandbox)
    actor = graph_sandbox.actor()
    actor.activate(user, group, timedelta(hours=1), "first")
    with pytest.raises(GraphActorError, match="RoleAssignmentExists"):
        actor.activate(user, group, timedelta(hours=1), "again")
    actor.deactivate(user, group)
    with pytest.raises(GraphActorError, match="RoleAssignmentDoesNotExist"):
        actor.deactivate(user, group)


def test_request_missing_a_required_property_is_400(graph_sandbox: GraphSandbox) -> None:
    group, _ = eligible_user(graph_sandbox)
    with client(graph_sandbox) as c:
        r = c.post(
            REQUESTS, json={"accessId": "member", "groupId": group, "action": "selfActivate"}
        )
        assert r.status_code == 400 and "principalId" in r.json()["error"]["message"]
        r = c.post(REQUESTS, content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 400


def test_batch_dispatches_each_sub_request_and_caps_at_twenty(graph_sandbox: GraphSandbox) -> None:
    group, user = eligible_user(graph_sandbox)
    ok = [
        {"id": "1", "method": "GET", "url": f"/groups/{group}"},
        {"id": "2", "method": "GET", "url": f"/users/{user}"},
        {"id": "3", "method": "GET", "url": INSTANCES},
    ]
    with client(graph_sandbox) as c:
        replies = c.post("/$batch", json={"requests": ok}).json()["responses"]
        too_many = [{"id": str(n), "method": "GET", "url": f"/users/{user}"} for n in range(21)]
        refused = c.post("/$batch", json={"requests": too_many})

    by_id = {r["id"]: r for r in replies}
    assert by_id["1"]["body"]["displayName"] == "g"
    assert by_id["2"]["body"]["userPrincipalName"] == "alice@contoso.test"
    assert by_id["3"]["status"] == 400
    assert refused.status_code == 400


def test_throttle_answers_inside_batch_and_at_top_level_like_graph(
    graph_sandbox: GraphSandbox,
) -> None:
    group, _ = eligible_user(graph_sandbox)
    documented = sample("throttling-429")
    graph_sandbox.throttle(2, retry_after=1)
    sub = [{"id": "a", "method": "GET", "url": f"/groups/{group}"}]
    with client(graph_sandbox) as c:
        inside = c.post("/$batch", json={"requests": sub}).json()["responses"][0]
        direct = c.get(f"/groups/{group}")
        after = c.get(f"/groups/{group}")
        graph_sandbox.throttle(1, retry_after=0, batch_envelope=True)
        envelope = c.post("/$batch", json={"requests": sub})

    assert inside["status"] == 429 and inside["headers"]["Retry-After"] == "1"
    assert inside["body"]["error"]["code"] == documented["body"]["error"]["code"]
    assert direct.status_code == 429 and direct.headers["Retry-After"] == "1"
    assert after.status_code == 200
    assert envelope.status_code == 429


def test_latency_and_request_counter(graph_sandbox: GraphSandbox) -> None:
    group, _ = eligible_user(graph_sandbox)
    graph_sandbox.latency = 0.2
    before = graph_sandbox.requests_served
    with client(graph_sandbox) as c:
        r = c.get(f"/groups/{group}")
    assert r.elapsed >= timedelta(seconds=0.2)
    assert graph_sandbox.requests_served == before + 1


def test_future_admin_assignment_is_listed_from_its_start(
    graph_sandbox: GraphSandbox, graph_clock: FakeClock
) -> None:
    group, user = eligible_user(graph_sandbox)
    start = (graph_clock.now() + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "accessId": "member",
        "principalId": user,
        "groupId": group,
        "action": "adminAssign",
        "scheduleInfo": {
            "startDateTime": start,
            "expiration": {"type": "afterDuration", "duration": "PT2H"},
        },
        "justification": "Assign active member access.",
    }
    query = {"$filter": f"groupId eq '{group}'"}
    with client(graph_sandbox, graph_sandbox.issue_token(graph_sandbox.admin_id)) as c:
        created = c.post(REQUESTS, json=body)
        assert created.status_code == 201
        assert created.json()["createdBy"] == {"user": {"id": graph_sandbox.admin_id}}
        assert c.get(INSTANCES, params=query).json()["value"] == []
        graph_clock.advance(30 * 60)
        assert len(c.get(INSTANCES, params=query).json()["value"]) == 1
