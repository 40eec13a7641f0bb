"""Config: every mistake is one clear line naming the key; docs cannot drift from the models."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bridge.config import (
    AssignmentConfig,
    Config,
    MappingConfig,
    config_from_dict,
    load_config,
)
from bridge.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def base() -> dict[str, Any]:
    return {
        "aws": {"identity_store_id": "d-1", "instance_arn": "arn:aws:sso:::instance/ssoins-1"},
        "mappings": [
            {
                "name": "prod-admin",
                "entra_group_id": "g-1",
                "assignments": [{"account_id": "111111111111", "permission_set": "Admin"}],
            }
        ],
    }


def error_of(data: dict[str, Any], env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        config_from_dict(data, env or {})
    return exc.value


def test_example_config_is_valid() -> None:
    cfg = config_from_dict(tomllib.loads((ROOT / "config.example.toml").read_text()), {})
    assert cfg.mappings[0].name == "prod-admin"


def test_bad_account_id_names_the_key_path() -> None:
    data = base()
    data["mappings"][0]["assignments"][0]["account_id"] = "12345"
    err = error_of(data)
    assert err.key == "mappings[0].assignments[0].account_id"
    assert "12-digit" in err.reason


def test_unknown_key_is_refused_by_name() -> None:
    data = base()
    data["schedule"] = {"poll_intervall": "5s"}
    assert str(error_of(data)) == "schedule.poll_intervall: unknown key"


def test_secret_in_the_file_is_refused_and_not_echoed() -> None:
    data = base()
    data["entra"] = {"client_secret": "hunter2-very-secret"}
    err = error_of(data)
    assert err.key == "entra.client_secret"
    assert "hunter2" not in str(err)


def test_environment_overrides_the_file() -> None:
    env = {
        "PIM_BRIDGE_SCHEDULE__POLL_INTERVAL": "30s",
        "PIM_BRIDGE_SAFETY__MAX_REMOVALS_PER_CYCLE": "5",
    }
    cfg = config_from_dict(base(), env)
    assert cfg.schedule.poll_interval.total_seconds() == 30
    assert cfg.safety.max_removals_per_cycle == 5


def test_client_secret_comes_from_the_environment_and_is_masked() -> None:
    data = base()
    data["entra"] = {"credential": "client_secret", "tenant_id": "t", "client_id": "c"}
    cfg = config_from_dict(data, {"PIM_BRIDGE_ENTRA__CLIENT_SECRET": "s3cr3t-value"})
    assert cfg.entra.client_secret is not None
    assert cfg.entra.client_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(cfg)


def test_mapping_without_any_target_is_refused() -> None:
    data = base()
    del data["mappings"][0]["assignments"]
    assert error_of(data).key == "mappings[0]"


def test_group_mapped_twice_is_refused() -> None:
    data = base()
    data["mappings"].append({**data["mappings"][0], "name": "again"})
    assert "mapped twice" in error_of(data).reason


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(tmp_path / "nope.toml", {})
    assert "file not found" in exc.value.reason


def test_cli_exits_2_with_one_line_on_a_bad_config(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[aws]\nidentity_store_id = "d-1"\ninstance_arn = "nope"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "bridge", "sync", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pim-bridge: config error: aws.instance_arn:")


def test_an_unquoted_account_id_is_a_toml_error_with_a_hint_to_quote_it(tmp_path: Path) -> None:
    path = tmp_path / "pim-bridge.toml"
    path.write_text(
        '[aws]\nidentity_store_id = "d-1"\ninstance_arn = "arn:aws:sso:::instance/ssoins-1"\n'
        '[[mappings]]\nname = "m"\nentra_group_id = "g-1"\n'
        "[[mappings.assignments]]\naccount_id = 012345678901\npermission_set = 'Admin'\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_config(path, {})
    assert "is not valid TOML" in exc.value.reason
    assert 'quote account ids: account_id = "012345678901"' in exc.value.reason


def test_a_bad_environment_override_names_the_variable() -> None:
    err = error_of(base(), {"PIM_BRIDGE_SCHEDULE__POLL_INTERVAL": "soon"})
    assert "PIM_BRIDGE_SCHEDULE__POLL_INTERVAL" in str(err)
    assert err.key.startswith("schedule.poll_interval")


def test_a_bad_key_in_the_file_names_no_variable() -> None:
    data = base()
    data["schedule"] = {"poll_interval": "soon"}
    assert error_of(data).key == "schedule.poll_interval"


def _documented() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    out: dict[str, set[str]] = {}
    section = ""
    for line in text.splitlines():
        if m := re.match(r"^## \[\[?(\w+)\]?\]", line):
            section = m.group(1)
        elif line.startswith("Each item of `assignments`"):
            section = "assignments"
        elif section and (m := re.match(r"^\| `(\w+)` \|", line)):
            out.setdefault(section, set()).add(m.group(1))
    return out


def test_every_config_key_is_documented_and_every_documented_key_exists() -> None:
    models: dict[str, set[str]] = {
        name: set(field.annotation.model_fields)  # type: ignore[union-attr]
        for name, field in Config.model_fields.items()
        if name != "mappings"
    }
    models["mappings"] = set(MappingConfig.model_fields)
    models["assignments"] = set(AssignmentConfig.model_fields)
    assert _documented() == models
