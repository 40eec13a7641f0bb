"""[activity]: optional, off without a bucket; every mistake names its key."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.config import config_from_dict
from bridge.config_activity import TRAIL_LAYOUT
from bridge.errors import ConfigError


def base(**activity: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "aws": {"identity_store_id": "d-1", "instance_arn": "arn:aws:sso:::instance/ssoins-1"},
        "mappings": [{"name": "m", "entra_group_id": "g-1", "identity_center_group": "G"}],
    }
    if activity:
        data["activity"] = activity
    return data


def error_of(data: dict[str, Any], env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        config_from_dict(data, env or {})
    return exc.value


def test_without_the_section_no_activity_is_read() -> None:
    cfg = config_from_dict(base(), {})
    assert not cfg.activity.enabled
    assert cfg.activity.cloudtrail_prefix == TRAIL_LAYOUT


def test_an_organization_trail_needs_its_organization_id() -> None:
    err = error_of(base(cloudtrail_bucket="trail"))
    assert err.key == "activity"
    assert "organization_id is required" in err.reason


def test_a_trail_of_one_account_needs_no_organization_id() -> None:
    prefix = "logs/AWSLogs/{account}/CloudTrail/{region}/{yyyy}/{mm}/{dd}/"
    cfg = config_from_dict(base(cloudtrail_bucket="trail", cloudtrail_prefix=prefix), {})
    assert cfg.activity.enabled and cfg.activity.cloudtrail_prefix == prefix


def test_unknown_key_in_activity_is_refused_by_name() -> None:
    assert str(error_of(base(bucket="trail"))) == "activity.bucket: unknown key"


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        ("AWSLogs/{account}/CloudTrail/{region}/{yyyy}/{mm}/", "needs {dd}"),
        ("AWSLogs/{acct}/{account}/{region}/{yyyy}/{mm}/{dd}/", "unknown placeholder {acct}"),
        ("AWSLogs/{account}/CloudTrail/{region}/{yyyy}/{mm}/{dd}", "must be a folder"),
    ],
)
def test_a_layout_it_cannot_read_names_the_prefix_key(prefix: str, reason: str) -> None:
    err = error_of(base(cloudtrail_prefix=prefix))
    assert err.key == "activity.cloudtrail_prefix"
    assert reason in err.reason


def test_a_malformed_organization_id_is_refused() -> None:
    err = error_of(base(organization_id="org-1"))
    assert err.key == "activity.organization_id"


def test_environment_overrides_activity_keys() -> None:
    env = {
        "PIM_BRIDGE_ACTIVITY__CLOUDTRAIL_BUCKET": "trail",
        "PIM_BRIDGE_ACTIVITY__ORGANIZATION_ID": "o-abcdefghij",
        "PIM_BRIDGE_ACTIVITY__REGIONS": '["eu-west-1", "us-east-1"]',
        "PIM_BRIDGE_ACTIVITY__AFTER_END": "12h",
    }
    cfg = config_from_dict(base(), env)
    assert cfg.activity.enabled and cfg.activity.organization_id == "o-abcdefghij"
    assert cfg.activity.regions == ["eu-west-1", "us-east-1"]
    assert cfg.activity.after_end.total_seconds() == 12 * 3600
