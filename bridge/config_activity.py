"""The `[activity]` section: where the organization trail's CloudTrail log files are read."""

from __future__ import annotations

import re
from datetime import timedelta

from pydantic import Field, field_validator, model_validator

from bridge.config_types import Duration, Section

# An organization trail's key layout (CloudTrail User Guide, "Finding your CloudTrail log
# files"): a trail of one account has no {org_id} part; a trail's own key prefix goes in front.
TRAIL_LAYOUT = "AWSLogs/{org_id}/{account}/CloudTrail/{region}/{yyyy}/{mm}/{dd}/"
_LAYOUT_FIELD = re.compile(r"\{([^{}]*)\}")
_LAYOUT_NEEDS = ("account", "region", "yyyy", "mm", "dd")
_LAYOUT_MAY = ("org_id", *_LAYOUT_NEEDS)


class ActivityConfig(Section):
    cloudtrail_bucket: str = Field(
        "", description="S3 bucket the organization trail delivers to; empty: no activity is read."
    )
    cloudtrail_prefix: str = Field(
        TRAIL_LAYOUT,
        description="Key of one day's log files, with {org_id}, {account}, {region}, {yyyy}, "
        "{mm} and {dd}; a trail's own S3 key prefix goes in front.",
    )
    organization_id: str = Field(
        "", description="The organization id (o-…) an organization trail puts in its keys."
    )
    regions: list[str] = Field(
        default_factory=list,
        description="Regions whose logs are read; empty: every region the bucket holds for an "
        "account.",
    )
    role_arn: str = Field(
        "", description="Role to assume to read the bucket; empty: the credentials of [aws]."
    )
    bucket_region: str = Field("", description="The bucket's region; empty: aws.region.")
    after_end: Duration = Field(
        timedelta(hours=1),
        description="How long after a grant's end its sessions' calls are still looked for: "
        "the longest session its permission sets issue.",
    )
    delivery_delay: Duration = Field(
        timedelta(minutes=15),
        description="How long CloudTrail may take to deliver a call's record; a window is read "
        "this much further.",
    )
    interval: Duration = Field(
        timedelta(hours=1), description="How often `run` digests new log files into the ledger."
    )

    @property
    def enabled(self) -> bool:
        return bool(self.cloudtrail_bucket)

    @field_validator("cloudtrail_prefix")
    @classmethod
    def _layout(cls, v: str) -> str:
        fields = _LAYOUT_FIELD.findall(v)
        unknown = sorted(set(fields) - set(_LAYOUT_MAY))
        if unknown:
            raise ValueError(f"unknown placeholder {{{unknown[0]}}} (use {', '.join(_LAYOUT_MAY)})")
        missing = [f for f in _LAYOUT_NEEDS if f not in fields]
        if missing:
            raise ValueError(f"needs {{{missing[0]}}}: the day's folder of one account and region")
        if not v.endswith("/") or v.startswith("/"):
            raise ValueError("must be a folder: no leading '/', a trailing '/'")
        return v

    @field_validator("organization_id")
    @classmethod
    def _org(cls, v: str) -> str:
        if v and not re.fullmatch(r"o-[a-z0-9]{10,32}", v):
            raise ValueError("must look like o-exampleorgid (o- and 10 to 32 letters or digits)")
        return v

    @field_validator("after_end", "delivery_delay")
    @classmethod
    def _not_negative(cls, v: timedelta) -> timedelta:
        if v.total_seconds() < 0:
            raise ValueError("must not be negative")
        return v

    @field_validator("interval")
    @classmethod
    def _often(cls, v: timedelta) -> timedelta:
        if v.total_seconds() < 1:
            raise ValueError("must be at least 1s")
        return v

    @model_validator(mode="after")
    def _org_needed(self) -> ActivityConfig:
        if self.enabled and "{org_id}" in self.cloudtrail_prefix and not self.organization_id:
            raise ValueError(
                "organization_id is required when cloudtrail_prefix has {org_id} "
                "(an organization trail)"
            )
        return self
