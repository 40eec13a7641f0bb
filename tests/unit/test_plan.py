"""plan() is the one place the bridge decides; these tests pin each rule and its properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.model import AccountAssignment, Binding, Grant, GroupMembership, Reason, Scope, User
from bridge.plan import Actual, plan

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ADMIN = GroupMembership("g-admin")
PROD = AccountAssignment("111111111111", "arn:aws:sso:::permissionSet/ssoins-1/ps-1")
OTHER = GroupMembership("g-not-mapped")
ALICE = User("p-alice", "alice@example.com", "u-alice")
BOB = User("p-bob", "bob@example.com", "u-bob")


def grant(
    user: User = ALICE,
    target: GroupMembership | AccountAssignment = ADMIN,
    *,
    start: float = -3600,
    end: float | None = 3600,
    mapping: str = "admins",
    instance: str = "i-1",
) -> Grant:
    return Grant(
        user,
        target,
        NOW + timedelta(seconds=start),
        None if end is None else NOW + timedelta(seconds=end),
        instance,
        mapping,
    )


def scope(**kw: object) -> Scope:
    base: dict[str, object] = {
        "managed": frozenset({ADMIN.key, PROD.key}),
        "drift_remove": frozenset(),
        "targets_of": {"admins": frozenset({ADMIN.key}), "prod": frozenset({PROD.key})},
    }
    base.update(kw)
    return Scope(**base)  # type: ignore[arg-type]


def b(user: User, target: GroupMembership | AccountAssignment) -> Binding:
    return Binding(user.ic_user_id, target)


def test_activated_grant_is_added_with_reason_activated() -> None:
    p = plan([grant()], Actual(frozenset()), scope(), NOW)
    assert [(c.op, c.binding, c.reason) for c in p.changes] == [
        ("add", b(ALICE, ADMIN), Reason.ACTIVATED)
    ]


def test_grant_whose_end_has_passed_is_removed_even_if_graph_still_lists_it() -> None:
    ended = grant(end=-1)
    p = plan([ended], Actual(frozenset({b(ALICE, ADMIN)}), ledger_grants=(ended,)), scope(), NOW)
    assert [(c.op, c.reason) for c in p.changes] == [("remove", Reason.EXPIRED)]


def test_deactivated_before_its_end_is_removed_as_deactivated() -> None:
    was = grant(end=3600)
    p = plan([], Actual(frozenset({b(ALICE, ADMIN)}), ledger_grants=(was,)), scope(), NOW)
    assert [(c.op, c.reason) for c in p.changes] == [("remove", Reason.DEACTIVATED)]


def test_overlapping_grants_keep_access_until_last_ends() -> None:
    short = grant(end=-5, mapping="admins", instance="i-short")
    long = grant(end=600, mapping="breakglass", instance="i-long")
    held = Actual(frozenset({b(ALICE, ADMIN)}), ledger_grants=(short, long))
    assert plan([short, long], held, scope(), NOW).empty
    later = NOW + timedelta(seconds=601)
    assert [c.op for c in plan([short, long], held, scope(), later).changes] == ["remove"]


def test_future_grant_is_not_added_before_its_start() -> None:
    assert plan([grant(start=60)], Actual(frozenset()), scope(), NOW).empty


def test_foreign_member_on_managed_target_is_reported_not_removed_by_default() -> None:
    actual = Actual(frozenset(), aws_holders={ADMIN.key: frozenset({"u-stranger"})})
    p = plan([], actual, scope(), NOW)
    assert p.empty
    assert [f.kind for f in p.findings] == ["drift"]


def test_foreign_member_is_removed_where_the_mapping_says_drift_remove() -> None:
    actual = Actual(frozenset(), aws_holders={ADMIN.key: frozenset({"u-stranger"})})
    p = plan([], actual, scope(drift_remove=frozenset({ADMIN.key})), NOW)
    assert [(c.op, c.binding, c.reason) for c in p.changes] == [
        ("remove", Binding("u-stranger", ADMIN), Reason.DRIFT)
    ]


def test_targets_outside_the_mapping_are_never_touched() -> None:
    actual = Actual(
        frozenset({Binding("u-alice", OTHER)}), aws_holders={OTHER.key: frozenset({"u-x"})}
    )
    p = plan([grant(target=OTHER)], actual, scope(drift_remove=frozenset({OTHER.key})), NOW)
    assert p.empty


def test_unreadable_group_withholds_its_removals_but_expired_grants_still_go() -> None:
    live = grant(end=600, instance="i-live")
    expired = grant(user=BOB, end=-1, instance="i-old")
    actual = Actual(frozenset({b(ALICE, ADMIN), b(BOB, ADMIN)}), ledger_grants=(live, expired))
    p = plan([], actual, scope(unreadable=frozenset({"admins"})), NOW)
    assert [(c.op, c.binding, c.reason) for c in p.changes] == [
        ("remove", b(BOB, ADMIN), Reason.EXPIRED)
    ]


def test_unreadable_group_shields_its_targets_from_drift_removal() -> None:
    actual = Actual(frozenset(), aws_holders={ADMIN.key: frozenset({"u-stranger"})})
    s = scope(drift_remove=frozenset({ADMIN.key}), unreadable=frozenset({"admins"}))
    assert plan([], actual, s, NOW).empty


def test_mass_removal_above_the_limit_applies_no_removals_and_alerts() -> None:
    users = [User(f"p{i}", f"u{i}@x", f"u{i}") for i in range(5)]
    ledger = tuple(grant(u, end=600, instance=f"i{i}") for i, u in enumerate(users))
    actual = Actual(frozenset(b(u, ADMIN) for u in users), ledger_grants=ledger)
    p = plan([grant(user=BOB)], actual, scope(max_removals=3), NOW)
    assert [c.op for c in p.changes] == ["add"]
    assert any(f.kind == "safety_brake" for f in p.findings)


def test_expiries_are_not_held_back_by_the_safety_brake() -> None:
    users = [User(f"p{i}", f"u{i}@x", f"u{i}") for i in range(5)]
    ledger = tuple(grant(u, end=-1, instance=f"i{i}") for i, u in enumerate(users))
    actual = Actual(frozenset(b(u, ADMIN) for u in users), ledger_grants=ledger)
    p = plan([], actual, scope(max_removals=3), NOW)
    assert len(p.removes) == 5


def test_held_binding_removed_out_of_band_is_added_back_as_drift() -> None:
    actual = Actual(frozenset({b(ALICE, ADMIN)}), aws_holders={ADMIN.key: frozenset()})
    p = plan([grant()], actual, scope(), NOW)
    assert [(c.op, c.reason) for c in p.changes] == [("add", Reason.DRIFT)]


def test_permanent_grant_without_end_is_kept() -> None:
    p = plan([grant(end=None)], Actual(frozenset({b(ALICE, ADMIN)})), scope(), NOW)
    assert p.empty


# -- properties ------------------------------------------------------------------------------

USERS = [User(f"p{i}", f"user{i}@example.com", f"u{i}") for i in range(4)]
TARGETS = [ADMIN, PROD, OTHER]
MANAGED = frozenset({ADMIN.key, PROD.key})

grants_st = st.lists(
    st.builds(
        grant,
        user=st.sampled_from(USERS),
        target=st.sampled_from(TARGETS),
        start=st.integers(-7200, 600),
        end=st.one_of(st.none(), st.integers(-3600, 3600)),
        mapping=st.sampled_from(["admins", "prod"]),
        instance=st.sampled_from(["i1", "i2", "i3"]),
    ),
    max_size=12,
)
bindings_st = st.frozensets(
    st.builds(
        Binding,
        st.sampled_from([u.ic_user_id for u in USERS] + ["u-foreign"]),
        st.sampled_from(TARGETS),
    ),
    max_size=10,
)


def _apply(world: set[Binding], p_changes: object) -> set[Binding]:
    out = set(world)
    for c in p_changes:  # type: ignore[attr-defined]
        (out.add if c.op == "add" else out.discard)(c.binding)
    return out


@settings(max_examples=300, deadline=None)
@given(grants_st, bindings_st, bindings_st, st.booleans())
def test_property_outside_managed_targets_only_what_the_bridge_made_is_removed(
    desired: list[Grant], held: frozenset[Binding], live: frozenset[Binding], remove: bool
) -> None:
    live_map = {k: frozenset(x.ic_user_id for x in live if x.target_key == k) for k in MANAGED}
    s = scope(drift_remove=MANAGED if remove else frozenset())
    p = plan(desired, Actual(held, live_map, tuple(desired)), s, NOW)
    recorded = {Binding(g.user.ic_user_id, g.target) for g in desired}
    for c in (*p.changes, *p.held):
        if c.binding.target_key not in MANAGED:
            # An orphan: held by the bridge, with a grant the ledger recorded, ended or endless.
            assert c.op == "remove" and c.binding in held and c.binding in recorded
            assert c.reason in (Reason.EXPIRED, Reason.ORPHANED)


@settings(max_examples=300, deadline=None)
@given(grants_st, bindings_st, st.booleans())
def test_property_applying_a_plan_twice_changes_nothing(
    desired: list[Grant], world: frozenset[Binding], remove: bool
) -> None:
    s = scope(drift_remove=MANAGED if remove else frozenset(), max_removals=1000)
    held = frozenset(x for x in world if x.ic_user_id != "u-foreign")

    def live(w: set[Binding]) -> dict[str, frozenset[str]]:
        return {k: frozenset(x.ic_user_id for x in w if x.target_key == k) for k in MANAGED}

    first = plan(desired, Actual(held, live(set(world)), tuple(desired)), s, NOW)
    after = _apply(set(world), first.changes)
    held_after = _apply(set(held), first.changes)
    second = plan(desired, Actual(frozenset(held_after), live(after), tuple(desired)), s, NOW)
    assert second.empty


@settings(max_examples=300, deadline=None)
@given(grants_st, st.integers(0, 7200))
def test_property_no_grant_survives_its_end(desired: list[Grant], later: int) -> None:
    s = scope(max_removals=1000)
    first = plan(desired, Actual(frozenset(), {}, tuple(desired)), s, NOW)
    held = _apply(set(), first.changes)
    when = NOW + timedelta(seconds=later)
    second = plan(desired, Actual(frozenset(held), {}, tuple(desired)), s, when)
    after = _apply(held, second.changes)
    for x in after:
        assert any(
            Binding(g.user.ic_user_id, g.target) == x and g.live_at(when) for g in desired
        ), f"{x} survives with no live grant at {when}"


def test_a_blocked_user_is_granted_nothing_and_named_in_a_finding() -> None:
    blocked = {ALICE.ic_user_id: ALICE.name}
    p = plan(
        [grant(), grant(BOB, instance="i-2")], Actual(frozenset(), blocked=blocked), scope(), NOW
    )
    assert [c.binding for c in p.adds] == [b(BOB, ADMIN)]
    assert [g.user for g in p.grants.new] == [BOB]
    [found] = [f for f in p.findings if f.kind == "blocked"]
    assert found.detail.startswith("alice@example.com is blocked")


def test_access_given_is_kept_while_listed_though_its_start_is_ahead_of_the_clock() -> None:
    # Graph lists an instance once PIM started it: for access already given, a start ahead of
    # the bridge's clock is that clock set back, not the access not yet begun.
    started = grant(start=60)
    held = Actual(frozenset({b(ALICE, ADMIN)}), ledger_grants=(started,))
    assert plan([started], held, scope(), NOW).empty
