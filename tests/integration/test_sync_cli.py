"""`pim-bridge sync` as a user runs it: a subprocess talking HTTP to the Graph sandbox and to
moto's server, checked by reading Identity Center back through boto3."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.sandbox.world import World, running_world

HOUR = timedelta(hours=1)


class Rig:
    def __init__(self, world: World, tmp: Path) -> None:
        self.w = world
        self.db = tmp / "ledger.db"
        self.config = world.write_config(tmp / "pim-bridge.toml", f"sqlite:///{self.db}")
        self.actor = world.graph.actor()

    def sync(self, *extra: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
        return self.cli("sync", *extra, **env_extra)

    def cli(self, verb: str, *extra: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, **self.w.env(), **env_extra}
        return subprocess.run(
            [sys.executable, "-m", "bridge", verb, "-c", str(self.config), *extra],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    def activate(self, who: str, mapping: str = "prod-admin", length: timedelta = HOUR) -> None:
        self.actor.activate(self.w.entra_users[who], self.w.entra_groups[mapping], length, "work")

    def members(self) -> set[str]:
        ids = {v: k for k, v in self.w.ic_users.items()}
        return {ids[u] for u in self.w.ic_members()}

    def assigned(self) -> set[str]:
        ids = {v: k for k, v in self.w.ic_users.items()}
        return {ids[u] for u in self.w.ic_assigned()}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with running_world() as world:
        yield Rig(world, tmp_path)


def test_sync_mirrors_activations_and_reports_unknown_users(rig: Rig) -> None:
    rig.activate("alice")
    rig.activate("carol")
    rig.activate("carol", "breakglass")
    rig.activate("dave")  # in Entra only
    rig.actor.admin_assign(
        rig.w.entra_users["bob"], rig.w.entra_groups["prod-admin"], permanent=True
    )
    proc = rig.sync()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rig.members() == {"alice", "carol"}
    assert rig.assigned() == {"alice", "carol"}
    assert "+ alice@example.com -> AWS-Prod-Admin" in proc.stdout
    assert "unresolved_user: dave@example.com" in proc.stdout
    assert rig.sync().stdout.count("No changes") == 1


def test_deactivation_removes_only_what_that_grant_gave(rig: Rig) -> None:
    rig.activate("alice")
    rig.activate("carol")
    rig.activate("carol", "breakglass")
    assert rig.sync().returncode == 0
    for who, mapping in (("alice", "prod-admin"), ("carol", "prod-admin")):
        rig.actor.deactivate(rig.w.entra_users[who], rig.w.entra_groups[mapping])
    proc = rig.sync()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # carol keeps the group through break-glass but loses the prod-admin assignment.
    assert rig.members() == {"carol"}
    assert rig.assigned() == set()
    assert "- alice@example.com -> AWS-Prod-Admin  (deactivated)" in proc.stdout


def test_dry_run_prints_the_plan_and_changes_nothing(rig: Rig) -> None:
    rig.activate("erin")
    proc = rig.sync("--dry-run")
    assert proc.returncode == 0
    assert "+ erin@example.com" in proc.stdout and "Dry run" in proc.stdout
    assert rig.members() == set() and rig.assigned() == set()


def test_graph_outage_removes_nothing_and_exits_nonzero(rig: Rig) -> None:
    rig.activate("alice")
    assert rig.sync().returncode == 0
    rig.w.graph.outage(status=503)
    proc = rig.sync()
    assert proc.returncode == 1
    assert "unreadable_group" in proc.stdout
    assert rig.members() == {"alice"} and rig.assigned() == {"alice"}


def test_graph_token_appears_in_no_output_and_not_in_the_store(rig: Rig) -> None:
    rig.activate("alice")
    rig.w.graph.outage(status=401)
    failed = rig.sync()
    rig.w.graph.restore()
    ok = rig.sync()
    token = rig.w.graph.token
    for proc in (failed, ok):
        assert token not in proc.stdout and token not in proc.stderr
    for f in rig.db.parent.glob("ledger.db*"):
        assert token.encode() not in f.read_bytes()


def test_an_upstream_error_echoing_the_bearer_token_keeps_it_out_of_output_store_and_report(
    rig: Rig,
) -> None:
    rig.activate("alice")
    assert rig.sync().returncode == 0
    rig.w.graph.outage(status=400, echo_headers=True)
    failed = rig.sync("-v")
    token = rig.w.graph.token
    assert failed.returncode == 1 and "unreadable_group" in failed.stdout
    assert "[redacted]" in failed.stdout  # the finding is kept, the credential is not
    reports = [rig.cli("report", "--format", fmt) for fmt in ("table", "csv", "json", "md")]
    for proc in (failed, *reports):
        assert token not in proc.stdout and token not in proc.stderr
    assert all(r.returncode == 0 for r in reports), [r.stderr for r in reports]
    for f in rig.db.parent.glob("ledger.db*"):
        assert token.encode() not in f.read_bytes()


def test_grant_past_its_end_is_removed_even_while_graph_still_lists_it(tmp_path: Path) -> None:
    # Graph's clock stands 10 s behind ours: it keeps listing an instance that has ended.
    import time

    from tests.fakes import FakeClock

    start = datetime.now(UTC)
    with running_world(graph_clock=FakeClock(start - timedelta(seconds=10))) as world:
        rig = Rig(world, tmp_path)
        rig.activate("alice", length=timedelta(minutes=30))
        rig.activate("bob", length=timedelta(seconds=16))  # ends 6 s from now, by our clock
        assert rig.sync().returncode == 0
        assert rig.members() == {"alice", "bob"}
        time.sleep(max(0.0, (start + timedelta(seconds=6.5) - datetime.now(UTC)).total_seconds()))
        assert rig.w.graph.tenant.live_instances(None, rig.w.entra_users["bob"])
        proc = rig.sync()
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert rig.members() == {"alice"}
        assert "- bob@example.com -> AWS-Prod-Admin  (expired)" in proc.stdout


def test_a_grant_whose_mapping_leaves_the_config_is_listed_and_kept_until_its_end(
    rig: Rig, tmp_path: Path
) -> None:
    # Its removal at the end itself is proved on virtual time (tests/unit/test_end_of_access.py).
    from bridge.sandbox.world import _to_toml

    rig.activate("carol", "breakglass", length=HOUR)
    assert rig.sync().returncode == 0
    assert rig.members() == {"carol"}
    data = rig.w.config_dict(f"sqlite:///{rig.db}")
    data["mappings"] = [m for m in data["mappings"] if m["name"] != "breakglass"]
    rig.config.write_text(_to_toml(data), encoding="utf-8")
    dry = rig.sync("--dry-run")
    assert "orphan: carol@example.com -> AWS-Prod-Admin: mapping 'breakglass'" in dry.stdout
    assert "removed at its recorded end" in dry.stdout
    check = rig.cli("check-config")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "orphan: carol@example.com -> AWS-Prod-Admin" in check.stdout
    proc = rig.sync()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "- carol" not in proc.stdout
    assert rig.members() == {"carol"}


def test_removals_held_by_the_safety_brake_exit_1_and_are_named(rig: Rig) -> None:
    rig.activate("alice")
    rig.activate("bob")
    assert rig.sync().returncode == 0
    for who in ("alice", "bob"):
        rig.actor.deactivate(rig.w.entra_users[who], rig.w.entra_groups["prod-admin"])
    brake = {"PIM_BRIDGE_SAFETY__MAX_REMOVALS_PER_CYCLE": "1"}
    dry = rig.sync("--dry-run", **brake)
    proc = rig.sync(**brake)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert dry.returncode == 1
    for out in (dry.stdout, proc.stdout):
        assert "Held back by the safety brake" in out
        assert "- alice@example.com -> AWS-Prod-Admin  (deactivated)" in out
        assert "- bob@example.com -> AWS-Prod-Admin  (deactivated)" in out
    assert "held back" in proc.stderr
    assert rig.members() == {"alice", "bob"}


def test_sync_refuses_to_apply_while_a_service_holds_the_sqlite_store(rig: Rig) -> None:
    from bridge.leader import SingleReplica

    rig.activate("alice")
    running = SingleReplica(f"sqlite:///{rig.db}")  # what `pim-bridge run` holds
    try:
        proc = rig.sync()
        assert proc.returncode == 2
        assert "store.url" in proc.stderr and "another pim-bridge" in proc.stderr
        assert rig.members() == set()
        assert rig.sync("--dry-run").returncode == 0
    finally:
        running.release()
    assert rig.sync().returncode == 0


def test_drift_remove_keeps_members_the_bridge_did_not_add_in_a_group_it_does_not_own(
    rig: Rig,
) -> None:
    from bridge.sandbox.world import _to_toml

    shared = rig.w.aws.create_group("Shared-Admins", "Admins of several teams")
    rig.w.aws.add_member(shared, rig.w.ic_users["bob"])
    data = rig.w.config_dict(f"sqlite:///{rig.db}")
    data["mappings"] = [
        {
            "name": "shared",
            "entra_group_id": rig.w.entra_groups["prod-admin"],
            "identity_center_group": "Shared-Admins",
            "drift": "remove",
        }
    ]
    rig.config.write_text(_to_toml(data), encoding="utf-8")
    proc = rig.sync()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rig.w.aws.members(shared) == [rig.w.ic_users["bob"]]
    assert "kept, the group is not bridge-owned" in proc.stdout
