"""GraphPimSource against the Graph sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from bridge.config import EntraConfig
from bridge.errors import SourceError
from bridge.graph.source import GraphPimSource
from bridge.sandbox.graph.sandbox import GraphSandbox
from tests.fakes import FakeClock

pytest_plugins = ("tests.integration.graph_fixtures",)

pytestmark = pytest.mark.integration
HOUR = timedelta(hours=1)
SourceFactory = Callable[..., GraphPimSource]


def seed_group(sb: GraphSandbox, name: str, users: int) -> tuple[str, list[str]]:
    group = sb.add_group(name)
    ids = []
    for n in range(users):
        uid = sb.add_user(f"{name}-u{n}@contoso.test", f"{name} user {n}")
        sb.add_eligibility(uid, group)
        ids.append(uid)
    return group, ids


def activate_all(sb: GraphSandbox, group: str, users: list[str]) -> None:
    actor = sb.actor()
    for uid in users:
        actor.activate(uid, group, HOUR, "routine work")


def test_activation_is_read_with_principal_window_and_audit_details(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    group, (alice,) = seed_group(graph_sandbox, "prod", 1)
    t0 = graph_sandbox.tenant.clock.now()
    iid = graph_sandbox.actor().activate(alice, group, HOUR, "INC-4711 hotfix", ticket="INC-4711")

    read = graph_source().read_groups([group])[group]

    assert read.ok and read.skipped == ()
    (inst,) = read.instances
    assert inst.id == iid
    assert (inst.principal_id, inst.principal_type, inst.access_id) == (alice, "user", "member")
    assert (inst.assignment_type, inst.member_type) == ("activated", "direct")
    assert inst.principal["userPrincipalName"] == "prod-u0@contoso.test"
    assert inst.principal["mail"] == "prod-u0@contoso.test"
    assert inst.start == t0 and inst.end == t0 + HOUR
    assert inst.start.utcoffset() == timedelta(0)
    assert (inst.justification, inst.ticket, inst.approver) == ("INC-4711 hotfix", "INC-4711", None)


def test_admin_assignment_names_the_administrator_as_approver(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    group, (bob,) = seed_group(graph_sandbox, "ops", 1)
    graph_sandbox.actor().admin_assign(bob, group, permanent=True, justification="on-call rota")

    (inst,) = graph_source().read_groups([group])[group].instances

    assert inst.assignment_type == "assigned" and inst.end is None
    assert inst.approver == "pim-admin@sandbox.test"
    assert inst.justification == "on-call rota"


def test_every_page_of_a_large_group_is_read(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    graph_sandbox.page_size = 3
    group, users = seed_group(graph_sandbox, "big", 10)
    activate_all(graph_sandbox, group, users)
    before = graph_sandbox.requests_served

    read = graph_source().read_groups([group])[group]

    assert sorted(i.principal_id for i in read.instances) == sorted(users)
    assert all(i.justification == "routine work" for i in read.instances)
    # 4 pages of instances and 4 of requests.
    assert graph_sandbox.requests_served - before == 8


@pytest.mark.parametrize(
    "cap", [{"max_pages_per_group": 3}, {"max_items_per_group": 9}], ids=["pages", "items"]
)
def test_a_group_listing_past_its_cap_reads_as_unreadable_never_as_partial(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory, cap: dict[str, int]
) -> None:
    graph_sandbox.page_size = 3
    big, users = seed_group(graph_sandbox, "big", 10)  # 4 pages, 10 items
    small, (alice,) = seed_group(graph_sandbox, "small", 1)
    activate_all(graph_sandbox, big, users)
    activate_all(graph_sandbox, small, [alice])

    reads = graph_source(entra_keys=cap).read_groups([big, small])

    assert not reads[big].ok and reads[big].instances == ()
    assert next(iter(cap)) in (reads[big].error or "")
    assert [i.principal_id for i in reads[small].instances] == [alice]


def test_a_group_listing_at_its_cap_is_read_whole(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    graph_sandbox.page_size = 3
    group, users = seed_group(graph_sandbox, "big", 10)
    activate_all(graph_sandbox, group, users)

    caps = {"max_pages_per_group": 4, "max_items_per_group": 10}
    read = graph_source(entra_keys=caps).read_groups([group])[group]

    assert read.ok and len(read.instances) == 10


def test_many_groups_are_read_in_batches_of_twenty(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    groups = {}
    for n in range(45):
        group, users = seed_group(graph_sandbox, f"g{n}", n % 3)
        activate_all(graph_sandbox, group, users)
        groups[group] = users
    before = graph_sandbox.requests_served

    reads = graph_source().read_groups(list(groups))

    assert {g: sorted(i.principal_id for i in r.instances) for g, r in reads.items()} == {
        g: sorted(u) for g, u in groups.items()
    }
    # 90 listings (instances and requests per group), 20 per $batch call.
    assert graph_sandbox.requests_served - before == 5


def test_throttled_batch_sub_responses_are_retried_until_read(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    groups = {}
    for n in range(8):
        group, users = seed_group(graph_sandbox, f"t{n}", 2)
        activate_all(graph_sandbox, group, users)
        groups[group] = users
    graph_sandbox.throttle(6, retry_after=0, paths=["assignmentScheduleInstances"])

    reads = graph_source().read_groups(list(groups))

    assert all(r.ok for r in reads.values())
    assert {g: len(r.instances) for g, r in reads.items()} == {g: 2 for g in groups}


def test_throttled_direct_reads_honour_retry_after(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    group, users = seed_group(graph_sandbox, "slow", 2)
    activate_all(graph_sandbox, group, users)
    graph_sandbox.throttle(2, retry_after=1, batch_envelope=True)
    source = graph_source(backoff=0)

    started = time.monotonic()
    read = source.read_groups([group])[group]

    assert read.ok and len(read.instances) == 2
    assert time.monotonic() - started >= 1.0  # waited as told, not the zero backoff


@pytest.mark.parametrize("many", [False, True], ids=["direct", "batched"])
def test_throttling_past_max_retries_is_an_error_never_an_empty_group(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory, many: bool
) -> None:
    group, users = seed_group(graph_sandbox, "busy", 1)
    activate_all(graph_sandbox, group, users)
    others = [graph_sandbox.add_group(f"other{n}") for n in range(6 if many else 0)]
    graph_sandbox.throttle(1000, retry_after=0)

    reads = graph_source(max_retries=2).read_groups([group, *others])

    assert not reads[group].ok and reads[group].instances == ()
    assert "429" in (reads[group].error or "") and "after 2 retries" in (reads[group].error or "")


@pytest.mark.parametrize("many", [False, True], ids=["direct", "batched"])
def test_outage_of_one_group_fails_that_group_only(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory, many: bool
) -> None:
    down, down_users = seed_group(graph_sandbox, "down", 1)
    up, up_users = seed_group(graph_sandbox, "up", 1)
    activate_all(graph_sandbox, down, down_users)
    activate_all(graph_sandbox, up, up_users)
    extra = [graph_sandbox.add_group(f"quiet{n}") for n in range(5 if many else 0)]
    graph_sandbox.outage(down, status=503)

    reads = graph_source(max_retries=1).read_groups([down, up, *extra])

    assert reads[down].error is not None and "503" in reads[down].error
    assert reads[down].instances == ()
    assert reads[up].ok and len(reads[up].instances) == 1
    assert all(reads[g].ok for g in extra)


def test_group_reads_again_once_graph_is_restored(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    group, users = seed_group(graph_sandbox, "flaky", 1)
    activate_all(graph_sandbox, group, users)
    source = graph_source(max_retries=0)
    graph_sandbox.outage()
    assert not source.read_groups([group])[group].ok
    graph_sandbox.restore()
    assert len(source.read_groups([group])[group].instances) == 1


def test_malformed_item_is_skipped_and_the_rest_of_the_group_counts(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    group, users = seed_group(graph_sandbox, "odd", 2)
    activate_all(graph_sandbox, group, users)
    graph_sandbox.malformed(group)

    with caplog.at_level(logging.WARNING, logger="bridge.graph"):
        read = graph_source().read_groups([group])[group]

    assert read.ok and len(read.instances) == 2
    assert len(read.skipped) == 1 and "principalId" in read.skipped[0]
    assert "malformed" in caplog.text


@pytest.mark.parametrize("casing", ["lower", "capitalised"])
def test_both_enum_casings_read_the_same(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory, casing: str
) -> None:
    graph_sandbox.enum_case = casing
    group, (u,) = seed_group(graph_sandbox, "case", 1)
    graph_sandbox.actor().activate(u, group, HOUR, "x")

    (inst,) = graph_source().read_groups([group])[group].instances

    assert (inst.assignment_type, inst.member_type) == ("activated", "direct")


def test_expired_instance_is_no_longer_listed(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory, graph_clock: FakeClock
) -> None:
    group, (u,) = seed_group(graph_sandbox, "exp", 1)
    graph_sandbox.actor().activate(u, group, HOUR, "x")
    source = graph_source()

    graph_clock.advance(3599)
    assert len(source.read_groups([group])[group].instances) == 1
    graph_clock.advance(1)
    read = source.read_groups([group])[group]
    assert read.ok and read.instances == ()


def test_extension_moves_the_end_of_the_same_instance(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    group, (u,) = seed_group(graph_sandbox, "ext", 1)
    t0 = graph_sandbox.tenant.clock.now()
    actor = graph_sandbox.actor()
    iid = actor.activate(u, group, HOUR, "first")
    assert actor.extend(u, group, HOUR, "needs longer", ticket="CHG-9") == iid

    (inst,) = graph_source().read_groups([group])[group].instances

    assert inst.id == iid and inst.end == t0 + 2 * HOUR
    # The extension's reason is appended to the activation's, never replacing it.
    assert (inst.justification, inst.ticket) == ("first | needs longer", "CHG-9")


def test_early_deactivation_removes_the_instance(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    group, (u, v) = seed_group(graph_sandbox, "deact", 2)
    activate_all(graph_sandbox, group, [u, v])
    graph_sandbox.actor().deactivate(u, group)

    (inst,) = graph_source().read_groups([group])[group].instances

    assert inst.principal_id == v


def test_nested_group_principal_is_typed_as_group(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    group = graph_sandbox.add_group("parent")
    nested = graph_sandbox.add_nested_group_principal("child", group)
    graph_sandbox.actor().admin_assign(nested, group, duration=HOUR)

    (inst,) = graph_source().read_groups([group])[group].instances

    assert (inst.principal_id, inst.principal_type) == (nested, "group")
    assert inst.principal == {"displayName": "child"}


def test_rejected_token_fails_every_group_and_never_appears_in_errors_or_logs(
    graph_sandbox: GraphSandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "not-the-sandbox-token-4b1d"
    monkeypatch.setenv("PIM_BRIDGE_GRAPH_TOKEN", secret)
    groups = [graph_sandbox.add_group(f"g{n}") for n in range(2)]
    entra = EntraConfig(credential="static", graph_url=graph_sandbox.url)

    with caplog.at_level(logging.DEBUG), GraphPimSource(entra, backoff=0) as source:
        reads = source.read_groups(groups)
        with pytest.raises(SourceError) as raised:
            source.check(groups)

    assert all("401" in (r.error or "") for r in reads.values())
    assert not raised.value.temporary
    assert secret not in caplog.text
    assert secret not in str(raised.value)
    assert all(secret not in (r.error or "") for r in reads.values())


def test_check_reports_reachable_graph(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    group, _ = seed_group(graph_sandbox, "chk", 1)
    source = graph_source()

    assert "credential accepted" in source.check()
    assert f"group {group} readable" in source.check([group])


def test_retries_stop_at_the_read_deadline_so_a_poll_never_overruns(
    graph_sandbox: GraphSandbox, graph_source: SourceFactory
) -> None:
    group = graph_sandbox.add_group("down")
    graph_sandbox.outage(status=503, retry_after=1)
    source = graph_source(max_retries=5, deadline=1.5)

    started = time.monotonic()
    read = source.read_groups([group])[group]

    assert time.monotonic() - started < 2.5
    assert not read.ok and "deadline" in (read.error or "")
