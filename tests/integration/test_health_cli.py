"""`pim-bridge health --format json` against the whole sandbox: Graph (jobs, provisioning logs,
app credentials), the SCIM server, moto and a real ledger, through the CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.cli import main
from bridge.sandbox.graph.odata import iso
from bridge.sandbox.world import World, _to_toml, running_world
from bridge.wiring import build
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with running_world(
        provisioning=True, scim_activation_delay=0.1, scim_removal_delay=0.3, app_secret_days=90
    ) as w:
        for k, v in w.env().items():
            monkeypatch.setenv(k, v)
        yield w


def write_config(world: World, tmp_path: Path) -> Path:
    config = world.config(f"sqlite:///{tmp_path / 'ledger.db'}")
    data = world.config_dict(f"sqlite:///{tmp_path / 'ledger.db'}")
    data["entra"]["client_id"] = config.entra.client_id
    data["scim"] = {
        "endpoint": config.scim.endpoint,
        "token_expires_at": iso(config.scim.token_expires_at),
        "provisioning_app_id": config.scim.provisioning_app_id,
    }
    path = tmp_path / "pim-bridge.toml"
    path.write_text(_to_toml(data))
    return path


def grant_and_end(world: World, tmp_path: Path) -> None:
    """alice activates for 2 s; the bridge mirrors and revokes it; SCIM exports both."""
    bridge = build(world.config(f"sqlite:///{tmp_path / 'ledger.db'}"))
    try:
        actor = world.graph.actor()
        actor.activate(
            world.entra_users["alice"], world.entra_groups["prod-admin"], timedelta(seconds=2), "x"
        )
        bridge.reconciler.cycle(kind="sync", read_aws=True)
        assert world.provisioning is not None
        assert wait_for(lambda: world.provisioning.exported >= 1)  # type: ignore[union-attr]
        time.sleep(2.1)
        bridge.reconciler.expire()
        assert wait_for(lambda: world.provisioning.exported >= 2)  # type: ignore[union-attr]
    finally:
        bridge.close()


def health(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["health", "-c", str(path), "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    return code, {c["name"]: c for c in out["checks"]}


def set_secret_end(world: World, end: datetime) -> None:
    for app in world.graph.tenant.applications.values():
        for cred in app["passwordCredentials"]:
            cred["endDateTime"] = iso(end)


def test_health_json_reports_job_lag_token_and_credentials_with_exit_per_threshold(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(world, tmp_path)
    grant_and_end(world, tmp_path)

    code, checks = health(path, capsys)
    assert code == 0, checks
    assert checks["scim.job"]["value"] == "Active"
    for kind in ("activation", "removal"):
        figures = checks[f"scim.lag.{kind}"]["figures"]
        assert figures["samples"] == 1
        assert figures["p50_seconds"] is not None and figures["p95_seconds"] is not None
    assert 199 < checks["scim.token.expiry"]["figures"]["days_left"] <= 200
    assert checks["scim.token"]["value"] == "accepted"
    assert checks["scim.directory"]["state"] == "ok"
    assert 89 < checks["entra.app.secret"]["figures"]["days_left"] <= 90
    assert checks["entra.app.certificate"]["figures"]["days_left"] > 300
    assert checks["entra.saml_certificate"]["figures"]["days_left"] > 1000

    now = datetime.now(UTC)
    set_secret_end(world, now + timedelta(days=20))
    code, checks = health(path, capsys)
    assert (code, checks["entra.app.secret"]["state"]) == (1, "warning")

    set_secret_end(world, now + timedelta(days=3))
    code, checks = health(path, capsys)
    assert (code, checks["entra.app.secret"]["state"]) == (2, "critical")


def test_refused_scim_token_is_critical(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(world, tmp_path)
    assert world.scim is not None
    world.scim.rotate_token()  # the bridge still has the old one
    code, checks = health(path, capsys)
    assert code == 2
    assert checks["scim.token"]["state"] == "critical"
    assert "401" in checks["scim.token"]["value"]


def test_missing_log_permission_degrades_lag_to_unknown_naming_the_permission(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(world, tmp_path)
    world.graph.tenant.deny("provisioning")
    code, checks = health(path, capsys)
    assert code == 1
    for kind in ("activation", "removal"):
        check = checks[f"scim.lag.{kind}"]
        assert check["state"] == "unknown"
        assert "AuditLog.Read.All" in check["detail"]
    assert checks["scim.job"]["state"] == "ok"  # the other checks still run


def test_health_output_never_contains_the_scim_token_or_graph_token(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(world, tmp_path)
    assert world.scim is not None
    old = world.scim.token
    world.scim.rotate_token()
    main(["health", "-c", str(path), "--format", "table"])
    captured = capsys.readouterr()
    stored = (tmp_path / "ledger.db").read_bytes().decode("latin-1")
    for secret in (old, world.scim.token, world.graph.token):
        assert secret not in captured.out + captured.err
        assert secret not in stored
