"""Where a trail puts its log files: one folder per account, region and delivery day, each file
named `<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<unique>.json.gz` after the minute it was
delivered (CloudTrail User Guide, "Finding your CloudTrail log files", "CloudTrail log file
name format"). A file holds records of calls made at any time before its delivery."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from bridge.config_activity import ActivityConfig

_DELIVERED = re.compile(r"_CloudTrail_[^_/]+_(\d{8}T\d{4})Z_[^/]*$")


@dataclass(frozen=True)
class TrailLayout:
    template: str  # ActivityConfig.cloudtrail_prefix
    org_id: str = ""

    @classmethod
    def of(cls, config: ActivityConfig) -> TrailLayout:
        return cls(config.cloudtrail_prefix, config.organization_id)

    def day(self, account: str, region: str, day: date) -> str:
        """The folder of one account's, region's and day's log files."""
        return self.template.format(
            org_id=self.org_id,
            account=account,
            region=region,
            yyyy=f"{day.year:04d}",
            mm=f"{day.month:02d}",
            dd=f"{day.day:02d}",
        )

    def dates_folder(self, account: str, region: str) -> str | None:
        """The folder of every day of an account and region, when the days are its last parts
        (`…/{yyyy}/{mm}/{dd}/`), so that its keys sort by delivery; else None."""
        head, found, tail = self.template.partition("{yyyy}")
        if not found or tail != "/{mm}/{dd}/" or "{mm}" in head or "{dd}" in head:
            return None
        return head.format(org_id=self.org_id, account=account, region=region)

    def regions_folder(self, account: str) -> str | None:
        """The folder whose subfolders are an account's regions; None when the layout puts
        anything but the organization and account before {region}."""
        head, found, _ = self.template.partition("{region}")
        if not found or not head.endswith("/"):
            return None
        rest = head.replace("{org_id}", "").replace("{account}", "")
        if "{" in rest:
            return None
        return head.format(org_id=self.org_id, account=account)

    @staticmethod
    def file_prefix(account: str, region: str, minute: datetime) -> str:
        """The start of the names of files delivered in this minute: keys sort by it."""
        return f"{account}_CloudTrail_{region}_{minute:%Y%m%dT%H%M}Z"


def delivered_at(key: str) -> datetime | None:
    """The minute a log file was delivered, from its name; None for a name of another kind."""
    m = _DELIVERED.search(key)
    if m is None:
        return None
    try:
        return datetime.strptime(m.group(1), "%Y%m%dT%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None
