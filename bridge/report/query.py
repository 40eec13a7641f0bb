"""What a report covers: the time window and the filters, parsed from the command line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bridge.config_schedule import ScheduleConfig
from bridge.config_types import parse_duration
from bridge.model import as_utc

# Revoked later than this after the end counts as "access outlived its end": the bridge's promise
# (README), which the demo holds itself to as well. Expiry jobs run at the end second.
DEFAULT_REVOKE_TARGET = timedelta(seconds=2)
# The bridge learns of a deactivation at its next read of Graph: measured from PIM's request,
# its revocation may take one poll interval more. While watching, the membership watcher reads
# a deactivated group within seconds and the slow full poll is only the safety net, so the
# allowance is the fast poll's (the config's, when the report has it).
DEFAULT_POLL_INTERVAL: timedelta = ScheduleConfig().unwatched_every


def parse_when(value: str, now: datetime) -> datetime:
    """`7d`, `30m`, `2h` (that long before now), or an ISO date or date-time (UTC if no zone)."""
    text = value.strip()
    if "-" in text[1:] or "T" in text:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"not a date or duration: {value!r} (use e.g. 7d, 30m, 2024-05-01, "
                "2024-05-01T12:00:00Z)"
            ) from None
        return as_utc(when)
    try:
        return now - parse_duration(text)
    except ValueError:
        raise ValueError(
            f"not a date or duration: {value!r} (use e.g. 7d, 30m, 2024-05-01)"
        ) from None


@dataclass(frozen=True)
class ReportQuery:
    """A grant is in the report when its window [activated, ended] overlaps [since, until] and
    it passes every filter given (several values of one filter: any of them)."""

    now: datetime
    since: datetime | None = None
    until: datetime | None = None
    users: tuple[str, ...] = ()  # user name, its part before '@', Entra or Identity Center id
    groups: tuple[str, ...] = ()  # Entra group id, Identity Center group id or name
    mappings: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()  # assignment rows on these AWS accounts
    revoke_target: timedelta = DEFAULT_REVOKE_TARGET
    poll_interval: timedelta = DEFAULT_POLL_INTERVAL
    activity: bool = False  # show each grant's CloudTrail digest (`--activity`)

    def target_for(self, end_reason: str | None) -> timedelta:
        """How soon after its end a grant's access must be gone: PIM schedules an expiry ahead,
        but a deactivation is seen only at the next poll."""
        if end_reason == "deactivated":
            return self.revoke_target + self.poll_interval
        return self.revoke_target

    def describe(self) -> dict[str, object]:
        """The filters as they appear in the report, so a reader knows what was left out."""
        return {
            "since": _iso(self.since),
            "until": _iso(self.until),
            "users": list(self.users),
            "groups": list(self.groups),
            "mappings": list(self.mappings),
            "accounts": list(self.accounts),
            "revoke_target_s": self.revoke_target.total_seconds(),
            "poll_interval_s": self.poll_interval.total_seconds(),
        }

    def user_matches(self, *names: str | None) -> bool:
        if not self.users:
            return True
        wanted = {u.lower() for u in self.users}
        for n in names:
            if not n:
                continue
            low = n.lower()
            if low in wanted or low.split("@", 1)[0] in wanted:
                return True
        return False

    def in_window(self, when: datetime | None) -> bool:
        if when is None:
            return True
        if self.since is not None and when < self.since:
            return False
        return self.until is None or when <= self.until


def _iso(when: datetime | None) -> str | None:
    return None if when is None else iso(when)


def iso(when: datetime) -> str:
    """ISO-8601 UTC with a Z, to the second: what spreadsheets and SIEMs parse without help."""
    if when.tzinfo is not UTC:
        when = when.astimezone(UTC)
    # isoformat is several times faster than strftime, and a report formats millions of times
    # (its arguments given by position: faster still).
    return when.isoformat("T", "seconds")[:19] + "Z"


def split_values(values: Iterable[str] | None) -> tuple[str, ...]:
    """`--user a,b --user c` -> ('a', 'b', 'c')."""
    out: list[str] = []
    for v in values or ():
        out += [p.strip() for p in v.split(",") if p.strip()]
    return tuple(out)
