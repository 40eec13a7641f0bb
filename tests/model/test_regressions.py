"""The defects the model test found, each as the short run of steps hypothesis shrank it to,
replayed on the state machine with that defect's checks switched on (and the other known
defects' off, so each test fails for its own reason only).

A defect not fixed yet is xfail(strict) and listed in KNOWN_DEFECTS (machine.py): when
its fix lands the test passes, the strict mark fails the run, and whoever removes the mark also
removes the name. The others are fixed and stay as regression tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.model.machine import KNOWN_DEFECTS, BridgeMachine

Step = tuple[str, dict[str, Any]]
Play = Callable[..., None]


@pytest.fixture
def play(ledger_template: Path) -> Iterator[Callable[[str], Play]]:
    """`play(defect)(*steps)`: run the steps, each followed by the promise's checks."""
    made: list[BridgeMachine] = []

    def machine_for(defect: str) -> Play:
        # A fixed defect's checks run with every known one's still off; a known one's alone on.
        machine = BridgeMachine(ledger_template, KNOWN_DEFECTS - {defect})
        made.append(machine)

        def run(*steps: Step) -> None:
            for name, kwargs in steps:
                getattr(machine, name)(**kwargs)
                machine.keeps_its_promise()

        return run

    yield machine_for
    for machine in made:
        machine.teardown()


def start(*granted: tuple[str, str, float], **layout: Any) -> Step:
    """The service starting on a world where `granted` (user, Entra group, minutes) activated."""
    options = {"admins_drift": "report", "readers_drift": "report", "shared": False}
    return "start", {**options, **layout, "granted": list(granted)}


def edit(edit: str, **values: Any) -> Step:
    return "edit_config", {
        "edit": edit,
        "pick": 0,
        "drift": "report",
        "group": "Admins",
        "limit": 0,
        **values,
    }


ALICE_ADMIN = ("alice@x", "eg-1", 0.5)  # alice, 30 s in the group mapped as "admins"


def test_a_mapping_removed_from_the_config_still_ends_its_access(
    play: Callable[[str], Play],
) -> None:
    play("orphan_never_ends")(
        start(ALICE_ADMIN),
        edit("remove_mapping"),
        ("time_passes", {"seconds": 60}),
    )


def test_a_cycle_whose_brake_held_removals_exits_1(play: Callable[[str], Play]) -> None:
    play("brake_exits_zero")(
        start(ALICE_ADMIN),
        edit("lower_max_removals", limit=0),
        ("deactivate", {"pick": 0}),
        ("drift_sweep", {}),
    )


def test_a_renamed_mapping_keeps_its_access_through_the_restart(
    play: Callable[[str], Play],
) -> None:
    play("recovery_expires_before_read")(
        start(ALICE_ADMIN),
        edit("rename_mapping"),
    )


def test_an_add_cut_off_by_a_crash_still_ends(play: Callable[[str], Play]) -> None:
    play("inflight_add_outlives_crash")(
        start(),
        ("activate", {"user": "alice@x", "group": "eg-1", "minutes": 0.5}),
        ("killed_at_the_next_write", {"when": "after", "down_for": 60}),
        ("poll", {}),
    )


def test_an_add_that_timed_out_but_took_effect_still_ends(play: Callable[[str], Play]) -> None:
    play("timed_out_add_outlives_end")(
        start(),
        ("activate", {"user": "alice@x", "group": "eg-1", "minutes": 0.5}),
        ("identity_center_fault", {"fault": "timed_out_applied"}),
        ("poll", {}),
        ("drift_sweep", {}),
    )


def test_expiries_go_on_when_a_mapped_group_is_renamed(play: Callable[[str], Play]) -> None:
    play("renamed_group_stops_expiries")(
        start(ALICE_ADMIN),
        ("rename_identity_center_group", {"gid": "gid-admins"}),
        edit("restart"),
        ("time_passes", {"seconds": 60}),
    )


def test_a_read_moving_ends_into_the_past_meets_the_brake(play: Callable[[str], Play]) -> None:
    play("moved_end_bypasses_brake")(
        start(("alice@x", "eg-1", 5)),
        edit("lower_max_removals", limit=0),
        ("graph_fault", {"group": "eg-1", "fault": "stale_ends"}),
        ("poll", {}),
    )


def test_a_wall_clock_jumping_forward_meets_the_brake(play: Callable[[str], Play]) -> None:
    play("clock_jump_unbraked")(
        start(("alice@x", "eg-1", 5)),
        edit("lower_max_removals", limit=0),
        ("wall_clock_jumps", {"seconds": 3600}),
    )


def test_an_activation_without_an_end_is_not_granted_for_good(
    play: Callable[[str], Play],
) -> None:
    play("endless_activation_permanent")(
        start(),
        ("activate_oddly", {"how": "without_end", "user": "bob@x", "group": "eg-1", "pick": 0}),
        ("poll", {}),
    )


def test_a_second_instance_with_the_same_id_keeps_its_access(play: Callable[[str], Play]) -> None:
    reused = {"how": "reusing_an_instance_id", "user": "bob@x", "group": "eg-1", "pick": 0}
    play("duplicate_instance_flips")(
        start(("alice@x", "eg-1", 5), ("carol@x", "eg-2", 0.5)),
        ("activate_oddly", reused),
        ("poll", {}),
        ("time_passes", {"seconds": 60}),
    )


def test_a_principal_graph_did_not_type_is_not_granted(play: Callable[[str], Play]) -> None:
    untyped = {"how": "of_an_untyped_principal", "user": "bob@x", "group": "eg-1", "pick": 0}
    play("untyped_principal_granted")(
        start(),
        ("activate_oddly", untyped),
        ("poll", {}),
    )


def test_sync_is_refused_while_the_service_holds_the_sqlite_ledger(
    play: Callable[[str], Play],
) -> None:
    play("second_writer_on_sqlite")(
        start(),
        ("activate", {"user": "bob@x", "group": "eg-1", "minutes": 5}),
        ("sync_beside_the_service", {}),
    )


def test_a_grant_an_expiry_job_reads_first_ends_at_its_own_end(
    play: Callable[[str], Play],
) -> None:
    reused = {"how": "reusing_an_instance_id", "user": "bob@x", "group": "eg-1", "pick": 0}
    play("expiry_read_never_timed")(
        start(ALICE_ADMIN),
        ("activate_oddly", reused),
        ("time_passes_to_an_end", {"offset": 11.0, "pick": 1}),
    )


def test_a_removal_throttled_after_a_restart_is_retried_within_seconds(
    play: Callable[[str], Play],
) -> None:
    play("failed_removal_waits_for_a_poll")(
        start(ALICE_ADMIN),
        ("killed_at_the_next_write", {"when": "before", "down_for": 10}),
        ("identity_center_fault", {"fault": "throttled"}),
        ("service_down_for", {"seconds": 60}),
        ("time_passes", {"seconds": 1}),
        ("time_passes", {"seconds": 5}),
        ("time_passes", {"seconds": 5}),  # no poll on the way: only a retry removes it
    )


def test_a_creation_cut_off_where_a_renamed_group_stops_the_sweep_stays_unconfirmed(
    play: Callable[[str], Play],
) -> None:
    play("unread_unconfirmed_called_a_lie")(
        start(),
        ("killed_at_the_next_write", {"down_for": 0, "when": "before"}),
        ("activate", {"group": "eg-1", "minutes": 0.5, "user": "alice@x"}),
        ("rename_identity_center_group", {"gid": "gid-admins"}),
        ("drift_sweep", {}),
        ("time_passes", {"seconds": 60}),
    )


def test_a_holding_removed_out_of_band_where_a_renamed_group_stops_the_sweep_is_kept(
    play: Callable[[str], Play],
) -> None:
    play("unread_holding_called_a_lie")(
        start(ALICE_ADMIN),
        ("rename_identity_center_group", {"gid": "gid-admins"}),
        ("killed_at_the_next_write", {"down_for": 0, "when": "before"}),
        ("member_removed_out_of_band", {"pick": 0}),
        ("activate", {"group": "eg-1", "minutes": 0.5, "user": "bob@x"}),
        ("poll", {}),
        ("time_passes", {"seconds": 60}),
    )


def test_an_expiry_held_after_a_clock_jump_is_applied_once_monotonic_time_reaches_it(
    play: Callable[[str], Play],
) -> None:
    play("jump_held_expiry_waits_for_a_poll")(
        start(ALICE_ADMIN),
        ("rename_identity_center_group", {"gid": "gid-admins"}),
        edit("lower_max_removals", limit=0),
        ("extend", {"minutes": 0.5, "pick": 0}),
        ("wall_clock_jumps", {"seconds": 60}),
        ("time_passes_to_an_end", {"offset": -1.0, "pick": 5}),
    )


def test_a_retried_add_refused_after_one_that_timed_out_keeps_its_holding(
    play: Callable[[str], Play],
) -> None:
    play("refused_retry_forgets_a_timed_out_add")(
        start(),
        ("identity_center_fault", {"fault": "timed_out_applied"}),
        ("activate", {"group": "eg-1", "minutes": 0.5, "user": "alice@x"}),
        ("drift_sweep", {}),
        ("identity_center_fault", {"fault": "throttled"}),
        ("poll", {}),
        ("drift_sweep", {}),
    )


def test_an_addition_cut_off_over_a_membership_made_out_of_band_is_adopted_and_ends(
    play: Callable[[str], Play],
) -> None:
    play("cut_off_add_over_a_foreign_binding")(
        start(("alice@x", "eg-1", 0.5), shared=True),
        ("killed_at_the_next_write", {"down_for": 0, "when": "before"}),
        ("member_added_out_of_band", {"pick": 19, "user": "u-alice"}),
        edit("change_identity_center_group", group="Ops", limit=2),
        ("time_passes", {"seconds": 60}),
    )


def test_a_braked_removal_of_what_is_already_gone_is_not_held(
    play: Callable[[str], Play],
) -> None:
    play("braked_removal_of_a_gone_binding")(
        start(("alice@x", "eg-1", 0.5), shared=True),
        edit("lower_max_removals", limit=0),
        ("deactivate", {"pick": 0}),
        ("member_removed_out_of_band", {"pick": 1}),
        ("drift_sweep", {}),
    )


def test_a_restart_after_a_clock_jump_takes_the_clock_as_it_is(
    play: Callable[[str], Play],
) -> None:
    # Not a defect fixed but a limit stated: a process cannot tell a jump made before it started
    # from the time it was down, and revokes what ended by its clock, as after any downtime.
    play("restart_after_a_jump")(
        start(("alice@x", "eg-1", 0.5)),
        edit("lower_max_removals", limit=0),
        ("wall_clock_jumps", {"seconds": 60}),
        edit("add_mapping"),
    )


def test_a_group_renamed_back_to_its_mapped_name_is_granted_into_again(
    play: Callable[[str], Play],
) -> None:
    """Renamed away while the service restarted, the mapping's group did not resolve; named
    back, it resolves again, and a new activation is granted into it (the model had kept the
    names as the process first resolved them, and called that grant baseless)."""
    play("")(
        start(),
        ("killed_at_the_next_write", {"when": "before", "down_for": 0}),
        ("rename_identity_center_group", {"gid": "gid-admins"}),
        ("activate", {"user": "alice@x", "group": "eg-1", "minutes": 0.5}),
        ("drift_sweep", {}),
        ("time_passes", {"seconds": 60}),
        ("activate", {"user": "carol@x", "group": "eg-1", "minutes": 5}),
        ("rename_identity_center_group", {"gid": "gid-ops"}),
        ("rename_identity_center_group", {"gid": "gid-admins"}),
        ("poll", {}),
    )


def test_a_grant_made_by_the_name_as_resolved_before_a_rename_and_a_kill_has_a_basis(
    play: Callable[[str], Play],
) -> None:
    """The group renamed, a poll granted carol by the name as its process had resolved it, and
    the process was killed later in the same step: the model judged the grant by the next
    process's resolution alone."""
    play("")(
        start(ALICE_ADMIN, ALICE_ADMIN, ALICE_ADMIN),
        ("identity_center_fault", {"fault": "slow"}),
        ("drift_sweep", {}),
        ("identity_center_fault", {"fault": "throttled"}),
        ("activate", {"group": "eg-1", "minutes": 0.5, "user": "carol@x"}),
        ("activate", {"group": "eg-1", "minutes": 0.5, "user": "alice@x"}),
        ("killed_at_the_next_write", {"down_for": 0, "when": "before"}),
        ("rename_identity_center_group", {"gid": "gid-admins"}),
        ("time_passes", {"seconds": 60}),
    )


def test_removing_a_creation_cut_off_in_another_thread_is_no_second_removal(
    play: Callable[[str], Play],
) -> None:
    """Killed while re-adding alice: one thread's call was the one cut off, the other's intent
    was written and its call never made. The next process, after her end, removes both, as it
    must not knowing; the model had called the second a removal applied twice."""
    play("")(
        start(ALICE_ADMIN),
        ("deactivate", {"pick": 0}),
        ("drift_sweep", {}),
        ("killed_at_the_next_write", {"down_for": 60, "when": "before"}),
        ("activate", {"group": "eg-1", "minutes": 0.5, "user": "alice@x"}),
        ("drift_sweep", {}),
    )


def test_a_restart_with_the_clock_set_back_keeps_access_that_started_since(
    play: Callable[[str], Play],
) -> None:
    """The wall clock set back a minute, and the process restarted (a kill at its next write):
    the new process, going by that clock, saw alice's instances, which Graph lists, start in
    its future, removed her access as deactivated, and gave it back a minute later. Graph lists
    only instances PIM has started, so a start ahead of the bridge's clock is the clock's
    error, never a reason to remove."""
    play("")(
        start(("alice@x", "eg-2", 0.5)),
        ("killed_at_the_next_write", {"down_for": 0, "when": "before"}),
        ("poll", {}),
        ("drift_sweep", {}),
        ("wall_clock_jumps", {"seconds": -60}),
        ("extend", {"minutes": 0.5, "pick": 0}),
        ("activate", {"group": "eg-1", "minutes": 0.5, "user": "alice@x"}),
        ("time_passes", {"seconds": 600}),
    )


def test_a_start_ahead_of_a_clock_set_back_still_waits_for_a_new_grant(
    play: Callable[[str], Play],
) -> None:
    """Only access already given is kept through a start ahead of the clock: with the clock an
    hour back and a bad page giving an activation without an end its start as its end, a new
    grant taken on by that rule would have had no activation behind it, and so would one carried
    through the next unreadable read of its mapping."""
    play("")(
        start(),
        ("activate", {"group": "eg-1", "minutes": 0.5, "user": "alice@x"}),
        ("drift_sweep", {}),
        ("wall_clock_jumps", {"seconds": -3600}),
        ("graph_fault", {"fault": "stale_ends", "group": "eg-2"}),
        ("activate_oddly", {"group": "eg-2", "how": "without_end", "pick": 0, "user": "alice@x"}),
        ("service_down_for", {"seconds": 60}),
        ("graph_fault", {"fault": "HTTP 429", "group": "eg-2"}),
        ("drift_sweep", {}),
    )


def test_an_unread_extension_of_a_renamed_group_ends_at_the_ledger_end_by_the_bridge_clock(
    play: Callable[[str], Play],
) -> None:
    """The clock an hour back, the mapped group renamed away and alice's grant extended: the
    sweep no longer resolves the mapping, so it reads no extension and ends her grant at the
    ledger's end, as it must. The model had judged that end by the wall clock, an hour behind
    the monotonic time the bridge goes by, and called the removal one of live access."""
    play("")(
        start(("alice@x", "eg-1", 0.5)),
        ("wall_clock_jumps", {"seconds": -3600}),
        ("rename_identity_center_group", {"gid": "gid-admins"}),
        ("extend", {"minutes": 60, "pick": 0}),
        ("time_passes_to_an_end", {"offset": -1.0, "pick": 0}),
        ("drift_sweep", {}),
    )
