"""What one grant's sessions did, summed up: kept in the ledger and added to as more log files
are read, so no file is read twice."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.activity.callers import Call
from bridge.activity.matching import Attribution

# The report names a grant's busiest services; the digest keeps every one (AWS has a few
# hundred), so adding two digests loses nothing.
TOP_SERVICES = 5


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class Digest:
    calls: int = 0
    errors: int = 0
    first_use: datetime | None = None  # first call that succeeded
    last_use: datetime | None = None
    services: Counter[str] = field(default_factory=Counter)
    used_after_end: int = 0  # calls that succeeded more than GRACE after the end
    used_after_end_first: datetime | None = None
    used_after_end_call: str | None = None  # "<service> <name>" of that first one
    denied_after_end: int = 0  # calls refused after the end: the revocation holding
    denied_after_end_first: datetime | None = None

    def add(self, call: Call, how: Attribution) -> None:
        self.calls += 1
        self.services[call.service] += 1
        if call.error is not None:
            self.errors += 1
        else:
            self.first_use = _earliest(self.first_use, call.at)
            self.last_use = _latest(self.last_use, call.at)
        if how.used_after_end(call):
            self.used_after_end += 1
            if self.used_after_end_first is None or call.at < self.used_after_end_first:
                self.used_after_end_first = call.at
                self.used_after_end_call = f"{call.service} {call.name}"
        elif call.denied and how.after_end(call):
            self.denied_after_end += 1
            self.denied_after_end_first = _earliest(self.denied_after_end_first, call.at)

    def merge(self, other: Digest) -> Digest:
        """The two digests of disjoint sets of files as one."""
        first_after = self.used_after_end_first
        call_after = self.used_after_end_call
        if other.used_after_end_first is not None and (
            first_after is None or other.used_after_end_first < first_after
        ):
            first_after, call_after = other.used_after_end_first, other.used_after_end_call
        return Digest(
            calls=self.calls + other.calls,
            errors=self.errors + other.errors,
            first_use=_earliest(self.first_use, other.first_use),
            last_use=_latest(self.last_use, other.last_use),
            services=self.services + other.services,
            used_after_end=self.used_after_end + other.used_after_end,
            used_after_end_first=first_after,
            used_after_end_call=call_after,
            denied_after_end=self.denied_after_end + other.denied_after_end,
            denied_after_end_first=_earliest(
                self.denied_after_end_first, other.denied_after_end_first
            ),
        )

    def top_services(self, n: int = TOP_SERVICES) -> list[str]:
        """The busiest services, busiest first (ties by name)."""
        ranked = sorted(self.services.items(), key=lambda kv: (-kv[1], kv[0]))
        return [name for name, _ in ranked[:n]]

    def values(self) -> dict[str, Any]:
        """The digest's columns in the ledger."""
        return {
            "calls": self.calls,
            "errors": self.errors,
            "first_use": self.first_use,
            "last_use": self.last_use,
            "services": dict(self.services),
            "used_after_end": self.used_after_end,
            "used_after_end_first": self.used_after_end_first,
            "used_after_end_call": self.used_after_end_call,
            "denied_after_end": self.denied_after_end,
            "denied_after_end_first": self.denied_after_end_first,
        }


@dataclass(frozen=True)
class GrantActivity:
    """A grant's digest as the ledger keeps it."""

    digest: Digest
    targets: tuple[str, ...]  # "permission set @ account" its calls were looked for
    complete: bool  # every log file of its window, to its end plus after_end, was read
    read_at: datetime

    @property
    def unused(self) -> bool:
        """No call at all in a whole window of AWS access: a least-privilege hint."""
        return self.complete and bool(self.targets) and self.digest.calls == 0


@dataclass
class ScanTotals:
    """What one reading of the trail read, and what it could not."""

    objects: int = 0
    records: int = 0
    attributed: int = 0  # records of a grant's session
    unattributed: int = 0  # Identity Center sessions no grant in the ledger explains
    other: int = 0  # records of anything but an Identity Center session
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (key, why)

    def add(self, other: ScanTotals) -> None:
        self.objects += other.objects
        self.records += other.records
        self.attributed += other.attributed
        self.unattributed += other.unattributed
        self.other += other.other
        self.skipped += other.skipped
