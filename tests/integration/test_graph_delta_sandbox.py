"""The sandbox's `groups/delta` over HTTP, as Graph v1.0 documents it: shapes, paging, the limit
of ids per filter, expired tokens, refusals, and membership that follows PIM after a delay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from bridge.sandbox.graph.membership import MembershipDelay
from bridge.sandbox.graph.sandbox import GraphSandbox
from tests.fakes import FakeClock

pytestmark = pytest.mark.integration
pytest_plugins = ("tests.integration.graph_fixtures",)


@pytest.fixture
def http(graph_sandbox: GraphSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(headers={"Authorization": f"Bearer {graph_sandbox.token}"}) as client:
        yield client


def _first(graph_sandbox: GraphSandbox, ids: list[str]) -> str:
    clauses = " or ".join(f"id eq '{i}'" for i in ids)
    return f"{graph_sandbox.url}/groups/delta?$select=members&$filter={quote(clauses)}"


def _round(http: httpx.Client, url: str) -> tuple[list[dict[str, Any]], str]:
    """Every group of one round, and its deltaLink."""
    groups: list[dict[str, Any]] = []
    while True:
        body = http.get(url).raise_for_status().json()
        groups += body["value"]
        if "@odata.deltaLink" in body:
            return groups, body["@odata.deltaLink"]
        url = body["@odata.nextLink"]


def test_an_activation_reaches_the_groups_members_after_the_delay(
    graph_sandbox: GraphSandbox, http: httpx.Client, graph_clock: FakeClock
) -> None:
    alice = graph_sandbox.add_user("alice@contoso.test")
    group = graph_sandbox.add_group("prod-admins")
    graph_sandbox.add_eligibility(alice, group)
    first, link = _round(http, _first(graph_sandbox, [group]))
    assert first == [{"id": group, "members@delta": []}]

    graph_sandbox.actor().activate(alice, group, timedelta(hours=1), "INC-1")
    assert _round(http, link)[0] == []  # Entra has not applied it yet
    graph_clock.advance(3)
    changed, link = _round(http, link)
    assert changed == [
        {"id": group, "members@delta": [{"@odata.type": "#microsoft.graph.user", "id": alice}]}
    ]
    assert _round(http, link)[0] == []  # the next round starts where this one ended

    graph_sandbox.actor().deactivate(alice, group)
    graph_clock.advance(3)
    removed, _ = _round(http, link)
    assert removed == [
        {
            "id": group,
            "members@delta": [
                {
                    "@odata.type": "#microsoft.graph.user",
                    "id": alice,
                    "@removed": {"reason": "deleted"},
                }
            ],
        }
    ]


def test_an_expiry_removes_the_member_after_the_delay(
    graph_sandbox: GraphSandbox, http: httpx.Client, graph_clock: FakeClock
) -> None:
    graph_sandbox.delta.delay = MembershipDelay(1.0, 1.0)
    bob = graph_sandbox.add_user("bob@contoso.test")
    group = graph_sandbox.add_group("ops")
    graph_sandbox.add_eligibility(bob, group)
    graph_sandbox.actor().activate(bob, group, timedelta(seconds=10), "x")
    graph_clock.advance(2)
    _, link = _round(http, _first(graph_sandbox, [group]))
    graph_clock.advance(9)  # ended at 10 s, applied a second later
    assert _round(http, link)[0] == [
        {
            "id": group,
            "members@delta": [
                {
                    "@odata.type": "#microsoft.graph.user",
                    "id": bob,
                    "@removed": {"reason": "deleted"},
                }
            ],
        }
    ]


def test_a_round_is_paged_and_only_its_last_page_carries_the_delta_link(
    graph_sandbox: GraphSandbox, http: httpx.Client
) -> None:
    graph_sandbox.delta.page_size = 2
    groups = [graph_sandbox.add_group(f"g{i}") for i in range(5)]
    body = http.get(_first(graph_sandbox, groups)).json()
    assert "@odata.nextLink" in body and "@odata.deltaLink" not in body
    found, link = _round(http, _first(graph_sandbox, groups))
    assert sorted(g["id"] for g in found) == sorted(groups)
    assert "$deltatoken=" in link


def test_a_filter_of_more_than_fifty_ids_is_refused(
    graph_sandbox: GraphSandbox, http: httpx.Client
) -> None:
    ids = [graph_sandbox.add_group(f"g{i}") for i in range(51)]
    answer = http.get(_first(graph_sandbox, ids))
    assert answer.status_code == 400
    assert "limit of 50" in answer.json()["error"]["message"]
    assert http.get(_first(graph_sandbox, ids[:50])).status_code == 200


def test_an_expired_or_unknown_token_answers_410_resync_required(
    graph_sandbox: GraphSandbox, http: httpx.Client
) -> None:
    group = graph_sandbox.add_group("ops")
    _, link = _round(http, _first(graph_sandbox, [group]))
    graph_sandbox.delta.expire_tokens()
    answer = http.get(link)
    assert answer.status_code == 410
    assert answer.json()["error"]["code"] == "resyncRequired"
    unknown = http.get(f"{graph_sandbox.url}/groups/delta?$deltatoken=not-one-of-ours")
    assert unknown.status_code == 410


@pytest.mark.parametrize("status", [403, 404, 501])
def test_a_refused_delta_answers_its_status(
    graph_sandbox: GraphSandbox, http: httpx.Client, status: int
) -> None:
    group = graph_sandbox.add_group("ops")
    graph_sandbox.delta.refusal = status
    assert http.get(_first(graph_sandbox, [group])).status_code == status
