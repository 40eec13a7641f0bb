"""The log an operator reads: `run` at its default level, `sync -v`, JSON lines, drift by name;
each a subprocess talking HTTP to the Graph sandbox and moto's server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.sandbox.world import ACCOUNT_PROD, World, _to_toml, running_world

pytestmark = pytest.mark.integration


@pytest.fixture
def world() -> Iterator[World]:
    with running_world() as w:
        yield w


def _config(world: World, tmp: Path, **service: Any) -> Path:
    data = world.config_dict(f"sqlite:///{tmp / 'ledger.db'}")
    data["service"] = {**data["service"], **service}
    path = tmp / "pim-bridge.toml"
    path.write_text(_to_toml(data))
    return path


def _cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **world.env()},
        timeout=120,
    )


def _activate(world: World, who: str, length: timedelta = timedelta(hours=1)) -> None:
    actor = world.graph.actor()
    try:
        actor.activate(world.entra_users[who], world.entra_groups["prod-admin"], length, "work")
    finally:
        actor.close()


def _wait_for(log: Path, wanted: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while wanted not in log.read_text() and time.monotonic() < end:
        time.sleep(0.2)


def _run(world: World, config: Path, log: Path, then: Callable[[], None], until: str) -> str:
    """`pim-bridge run`: once it runs, `then`; once its log shows `until`, stopped as systemd
    stops it."""
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bridge", "run", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **world.env()},
        )
        try:
            _wait_for(log, "pim-bridge running", 60)
            then()
            _wait_for(log, until, 60)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    return log.read_text()


def test_run_logs_every_change_by_name_at_its_default_level(world: World, tmp_path: Path) -> None:
    config = _config(world, tmp_path)
    ps = f"{world.permission_set_name} @ {ACCOUNT_PROD}"
    text = _run(
        world,
        config,
        tmp_path / "run.log",
        lambda: _activate(world, "alice", timedelta(seconds=4)),
        f"- alice@example.com -> {ps}",
    )

    assert "INFO bridge.cycle: + alice@example.com -> AWS-Prod-Admin  (activated" in text
    assert f"+ alice@example.com -> {ps}  (activated" in text
    assert "- alice@example.com -> AWS-Prod-Admin  (expired)" in text
    assert f"- alice@example.com -> {ps}  (expired)" in text
    assert world.ic_group_id not in text and world.permission_set_arn not in text
    assert "poll cycle: read 2 groups, 2 added, 0 removed, 0 held, 0 failed in " in text
    assert f"session denials armed on {world.permission_set_name}" in text
    assert "alembic" not in text  # the ledger's migrations are quiet below -vv


def test_json_log_format_writes_one_object_per_line_with_the_change_fields(
    world: World, tmp_path: Path
) -> None:
    config = _config(world, tmp_path, log_format="json")
    _activate(world, "alice")
    proc = _cli(world, "sync", "-c", str(config), "-v")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    lines = [json.loads(line) for line in proc.stderr.splitlines()]
    assert lines and all({"at", "level", "logger", "message"} <= line.keys() for line in lines)
    added = [line for line in lines if line.get("event") == "added"]
    assert {line["target"] for line in added} == {
        "AWS-Prod-Admin",
        f"{world.permission_set_name} @ {ACCOUNT_PROD}",
    }
    assert all(line["user"] == "alice@example.com" for line in added)
    assert all(line["mapping"] == "prod-admin" for line in added)
    (cycle,) = [line for line in lines if line.get("event") == "cycle"]
    assert (cycle["kind"], cycle["read_groups"], cycle["added"]) == ("sync", 2, 2)
    assert cycle["duration_seconds"] >= 0


def test_log_format_on_the_command_line_wins_over_the_config(world: World, tmp_path: Path) -> None:
    config = _config(world, tmp_path, log_format="json")
    _activate(world, "alice")
    proc = _cli(world, "--log-format", "text", "sync", "-c", str(config), "-v")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "INFO bridge.cycle: + alice@example.com -> AWS-Prod-Admin" in proc.stderr
    assert not any(line.startswith("{") for line in proc.stderr.splitlines())


def test_sync_names_the_user_the_group_and_the_mapping_of_drift(
    world: World, tmp_path: Path
) -> None:
    config = _config(world, tmp_path)
    world.aws.add_member(world.ic_group_id, world.ic_users["frank"])  # by hand, in AWS
    proc = _cli(world, "sync", "-c", str(config), "-v")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    frank = f"frank@example.com ({world.ic_users['frank']}) on AWS-Prod-Admin has no PIM basis"
    printed = " ".join(proc.stdout.split())  # wrapped at 100 columns
    assert f"! drift: {frank} [breakglass]" in printed
    assert world.ic_group_id not in proc.stdout
    assert f"drift: {frank}" in proc.stderr
    assert all(len(line) <= 100 for line in proc.stdout.splitlines())
