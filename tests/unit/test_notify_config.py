"""The [notify] section: the webhook URL only from the environment, never echoed in an error;
the events and formats a person can choose."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.config import config_from_dict
from bridge.config_notify import DEFAULT_EVENTS
from bridge.errors import ConfigError

URL = "https://hooks.example.com/services/T000/B000/very-secret"
ENV = "PIM_BRIDGE_NOTIFY__WEBHOOK_URL"


def base(**notify: Any) -> dict[str, Any]:
    return {
        "aws": {"identity_store_id": "d-1", "instance_arn": "arn:aws:sso:::instance/ssoins-1"},
        "notify": notify,
        "mappings": [{"name": "m", "entra_group_id": "g-1", "identity_center_group": "G"}],
    }


def test_notifications_are_off_without_a_webhook_and_default_to_the_alerts() -> None:
    config = config_from_dict(base(), {})
    assert not config.notify.enabled
    assert tuple(config.notify.events) == DEFAULT_EVENTS
    assert config.notify.format == "json"


def test_the_webhook_url_comes_from_the_environment() -> None:
    config = config_from_dict(base(format="teams", events=["granted", "revoked"]), {ENV: URL})
    assert config.notify.enabled and config.notify.webhook_url is not None
    assert config.notify.webhook_url.get_secret_value() == URL
    assert URL not in repr(config)


def test_a_webhook_url_in_the_file_is_refused_by_name() -> None:
    with pytest.raises(ConfigError) as exc:
        config_from_dict(base(webhook_url=URL), {})
    assert exc.value.key == "notify.webhook_url"
    assert ENV in exc.value.reason and URL not in str(exc.value)


def test_a_bad_webhook_url_is_refused_without_quoting_it() -> None:
    with pytest.raises(ConfigError) as exc:
        config_from_dict(base(), {ENV: "ftp://hooks.example.com/very-secret"})
    # The key, and the environment variable it came from (never its value).
    assert exc.value.key == f"notify.webhook_url (from {ENV})"
    assert "very-secret" not in str(exc.value)


def test_an_unknown_event_or_format_is_refused_by_name() -> None:
    with pytest.raises(ConfigError) as exc:
        config_from_dict(base(events=["revoked", "lunch"]), {})
    assert exc.value.key == "notify.events[1]"
    with pytest.raises(ConfigError) as exc:
        config_from_dict(base(format="discord"), {})
    assert exc.value.key == "notify.format"
