"""The `[notify]` section: where and what the bridge posts when something a person should know
happens (docs/notifications.md). The webhook URL is a credential and comes only from the
environment."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from bridge.config_types import Duration, Section

Event = Literal[
    "granted",
    "revoked",
    "blocked",
    "outlived_end",
    "safety_brake",
    "unreadable_group",
    "denial_overflow",
    "drift",
]
DEFAULT_EVENTS: tuple[Event, ...] = (
    "revoked",
    "outlived_end",
    "safety_brake",
    "unreadable_group",
    "denial_overflow",
)


class NotifyConfig(Section):
    webhook_url: SecretStr | None = Field(
        None,
        description="Incoming webhook to post to; unset: no notifications. Only from the "
        "environment: PIM_BRIDGE_NOTIFY__WEBHOOK_URL.",
        json_schema_extra={"secret": True},
    )
    format: Literal["json", "slack", "teams"] = Field(
        "json",
        description="Payload: the bridge's own JSON, a Slack incoming webhook message, or a "
        "Teams incoming webhook message with an Adaptive Card.",
    )
    events: list[Event] = Field(
        default_factory=lambda: list(DEFAULT_EVENTS),
        description="What is posted: granted, revoked, blocked, outlived_end, safety_brake, "
        "unreadable_group, denial_overflow, drift.",
    )
    queue_size: int = Field(
        1000, ge=1, description="Notifications waiting to be posted; when full, the oldest goes."
    )
    retries: int = Field(5, ge=0, description="Further attempts after a post fails.")
    backoff: Duration = Field(
        timedelta(seconds=1),
        description="Wait before the first retry, doubled at each further one (a 429's "
        "Retry-After instead, when given).",
    )
    max_backoff: Duration = Field(
        timedelta(minutes=2), description="Longest wait between two attempts, Retry-After too."
    )
    timeout: Duration = Field(timedelta(seconds=10), description="Timeout of one post.")

    @property
    def enabled(self) -> bool:
        return self.webhook_url is not None

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None:
            parts = urlsplit(v.get_secret_value())
            if parts.scheme not in ("https", "http") or not parts.hostname:
                # The value is a credential: the reason never quotes it.
                raise ValueError("must be an https:// (or http://) URL")
        return v

    @field_validator("events")
    @classmethod
    def _distinct(cls, v: list[Event]) -> list[Event]:
        return list(dict.fromkeys(v))

    @field_validator("backoff", "max_backoff", "timeout")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v.total_seconds() <= 0:
            raise ValueError("must be more than 0s")
        return v
