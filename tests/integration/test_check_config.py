"""`pim-bridge check-config` as an operator runs it: a subprocess against the Graph sandbox and
moto's server, one line per check of every mapping, and the exit code of the one table."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.sandbox.world import World, _to_toml, running_world


class Checker:
    def __init__(self, world: World, tmp: Path) -> None:
        self.w = world
        self.tmp = tmp
        self.data = world.config_dict(f"sqlite:///{tmp / 'ledger.db'}")

    def mapping(self, name: str) -> dict[str, Any]:
        return next(m for m in self.data["mappings"] if m["name"] == name)

    def run(self) -> subprocess.CompletedProcess[str]:
        path = self.tmp / "pim-bridge.toml"
        path.write_text(_to_toml(self.data), encoding="utf-8")
        return subprocess.run(
            [sys.executable, "-m", "bridge", "check-config", "-c", str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, **self.w.env()},
            timeout=120,
        )


@pytest.fixture
def checker(tmp_path: Path) -> Iterator[Checker]:
    with running_world() as world:
        yield Checker(world, tmp_path)


def lines(proc: subprocess.CompletedProcess[str], start: str) -> list[str]:
    return [line for line in proc.stdout.splitlines() if line.startswith(start)]


def test_check_config_checks_every_mapping_by_name(checker: Checker) -> None:
    proc = checker.run()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for name in ("prod-admin", "breakglass"):
        assert f"mapping {name}: Entra group: PIM-{name} exists" in out
        assert f"mapping {name}: PIM for Groups: answers for PIM-{name}" in out
        assert f"mapping {name}: PIM policy: PIM-{name}: member activations last 1h" in out
        assert f"mapping {name}: Identity Center group: AWS-Prod-Admin resolves" in out
    assert "mapping prod-admin: permission set: AdministratorAccess resolves" in out
    # moto's account is in no organization: the account is not readable, which is no failure.
    assert lines(proc, "mapping prod-admin: account 111111111111: skipped: ")


def test_check_config_fails_a_group_id_that_is_a_display_name_with_a_hint(
    checker: Checker,
) -> None:
    checker.mapping("breakglass")["entra_group_id"] = "PIM-breakglass"
    proc = checker.run()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = lines(proc, "mapping breakglass: Entra group: FAILED: ")
    assert "'PIM-breakglass' is not an object id" in line and "looks like a display name" in line
    # The other mappings are still checked: every problem in one run.
    assert "mapping prod-admin: Entra group: PIM-prod-admin exists" in proc.stdout


def test_check_config_fails_a_group_that_does_not_exist(checker: Checker) -> None:
    missing = str(uuid.uuid4())
    checker.mapping("breakglass")["entra_group_id"] = missing
    proc = checker.run()
    assert proc.returncode == 2
    assert f"mapping breakglass: Entra group: FAILED: no group with id {missing}" in proc.stdout


def test_check_config_names_the_group_and_permission_when_pim_refuses_it(
    checker: Checker,
) -> None:
    checker.w.graph.outage(checker.w.entra_groups["breakglass"], status=403)
    proc = checker.run()
    assert proc.returncode == 2
    (line,) = lines(proc, "mapping breakglass: PIM for Groups: FAILED: ")
    assert "does not answer for PIM-breakglass" in line and "HTTP 403" in line
    assert "PrivilegedAccess.Read.AzureADGroup" in line
    assert "PrivilegedAssignmentSchedule.Read.AzureADGroup" in line
    assert "mapping prod-admin: PIM for Groups: answers for PIM-prod-admin" in proc.stdout


def test_check_config_fails_names_identity_center_does_not_have(checker: Checker) -> None:
    checker.mapping("breakglass")["identity_center_group"] = "No-Such-Group"
    checker.mapping("prod-admin")["assignments"][0]["permission_set"] = "NoSuchSet"
    proc = checker.run()
    assert proc.returncode == 2
    assert lines(proc, "mapping breakglass: Identity Center group: FAILED: No-Such-Group")
    assert lines(proc, "mapping prod-admin: permission set: FAILED: NoSuchSet")


def test_check_config_names_an_account_the_organization_has_and_fails_one_it_lacks(
    checker: Checker,
) -> None:
    org = checker.w.aws.client("organizations")
    org.create_organization(FeatureSet="ALL")
    created = org.create_account(AccountName="Prod", Email="prod@example.com")
    prod = created["CreateAccountStatus"]["AccountId"]
    checker.mapping("prod-admin")["assignments"].append(
        {"account_id": prod, "permission_set": checker.w.permission_set_name}
    )
    proc = checker.run()
    assert proc.returncode == 2
    assert f"mapping prod-admin: account {prod}: Prod (ACTIVE)" in proc.stdout
    assert (
        "mapping prod-admin: account 111111111111: FAILED: no account 111111111111 in the "
        "organization" in proc.stdout
    )


def test_check_config_warns_when_an_activation_outlasts_the_permission_set_session(
    checker: Checker,
) -> None:
    checker.w.graph.set_max_activation(checker.w.entra_groups["prod-admin"], timedelta(hours=8))
    proc = checker.run()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (line,) = lines(proc, "mapping prod-admin: session duration: WARNING: ")
    assert "PIM-prod-admin last 8h" in line and "AdministratorAccess session (1h)" in line


def test_check_config_warns_of_members_drift_remove_would_remove(checker: Checker) -> None:
    w = checker.w
    w.aws.add_member(w.ic_group_id, w.ic_users["bob"])
    checker.mapping("prod-admin")["drift"] = "remove"
    checker.mapping("breakglass")["drift"] = "remove"
    proc = checker.run()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (line,) = lines(proc, "mapping prod-admin: drift: WARNING: ")
    assert "1 member(s) the bridge did not add (bob@example.com)" in line
    assert 'drift = "remove" removes them' in line


def test_check_config_warns_that_drift_remove_keeps_members_of_a_group_not_bridge_owned(
    checker: Checker,
) -> None:
    w = checker.w
    shared = w.aws.create_group("Shared-Admins", "Admins of several teams")
    w.aws.add_member(shared, w.ic_users["bob"])
    checker.data["mappings"] = [
        {
            "name": "shared",
            "entra_group_id": w.entra_groups["prod-admin"],
            "identity_center_group": "Shared-Admins",
            "drift": "remove",
        }
    ]
    proc = checker.run()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (line,) = lines(proc, "mapping shared: drift: WARNING: ")
    assert "(bob@example.com)" in line
    assert 'drift = "remove" keeps them' in line and "not bridge-owned" in line


def test_check_config_exits_2_when_graph_refuses_the_credential(checker: Checker) -> None:
    checker.w.graph.outage(status=401)
    proc = checker.run()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert lines(proc, "graph: FAILED: ") and "HTTP 401" in proc.stdout
    assert "mapping prod-admin: Entra group: skipped: Graph was not reached" in proc.stdout


def test_check_config_says_it_cannot_connect_to_a_dead_graph_port(checker: Checker) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    checker.data["entra"]["graph_url"] = f"http://127.0.0.1:{port}/v1.0"
    proc = checker.run()
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = lines(proc, "graph: FAILED: ")
    assert f"cannot connect to 127.0.0.1:{port}: connection refused" in line
    assert "503" not in line
