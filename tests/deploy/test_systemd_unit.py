"""deploy/systemd/pim-bridge.service: parsed here, and checked by `systemd-analyze` where it is
installed. The unit is not started: this environment has no systemd init."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from bridge.cli import parser

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "pim-bridge.service"
INSTALLED_BINARY = "/opt/pim-bridge/bin/pim-bridge"

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze not installed (Debian: apt-get install systemd)",
)


def _unit() -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    current = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        sections[current][key].append(value)
    return sections


def _testable_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's `pim-bridge`: `verify` insists the
    binary exists, and /opt/pim-bridge is where the docs install it, not where tests run."""
    binary = Path(sys.executable).parent / "pim-bridge"
    if not binary.exists():
        pytest.skip("no pim-bridge executable to point ExecStart at")
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace(INSTALLED_BINARY, str(binary)))
    return copy


def test_unit_starts_the_service_with_a_command_line_the_cli_accepts() -> None:
    (exec_start,) = _unit()["Service"]["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0] == INSTALLED_BINARY
    args = parser().parse_args(argv[1:])
    assert args.verb == "run"
    assert args.config == "/etc/pim-bridge/pim-bridge.toml"


def test_unit_keeps_state_in_its_state_directory_and_stops_gracefully() -> None:
    service = _unit()["Service"]
    assert service["StateDirectory"] == ["pim-bridge"]
    assert (
        "PIM_BRIDGE_STORE__URL=sqlite:////var/lib/pim-bridge/pim-bridge.db"
        in service["Environment"]
    )
    assert service["KillSignal"] == ["SIGTERM"]
    assert service["Restart"] == ["on-failure"]


def test_unit_is_hardened() -> None:
    service = _unit()["Service"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "DynamicUser": "yes",
        "RestrictSUIDSGID": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert service.get(key) == [value], f"{key}={value} missing"
    assert "@system-service" in service["SystemCallFilter"]


def test_unit_takes_secrets_from_a_root_only_environment_file_not_the_unit() -> None:
    service = _unit()["Service"]
    assert service["EnvironmentFile"] == ["-/etc/pim-bridge/env"]
    for value in service["Environment"]:
        assert "SECRET" not in value and "TOKEN" not in value, value


@needs_systemd_analyze
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    copy = _testable_copy(tmp_path)
    run = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == "", run.stderr


@needs_systemd_analyze
def test_systemd_security_exposure_is_at_most_2(tmp_path: Path) -> None:
    copy = _testable_copy(tmp_path)
    run = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "--offline" in run.stderr and "unrecognized" in run.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    assert run.returncode == 0, run.stdout[-800:] + run.stderr
