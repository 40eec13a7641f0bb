"""What a grant row is joined with, read once before the grants stream: the stretches during
which the bridge held each (user, target), the grants spanning each, the denials written for
each user, and what the bridge holds now.

Held compactly, since a ledger of a year has about as many stretches and spans as grants: each
kind in flat arrays of integers (times as microseconds since the epoch), read from SQL grouped
by (user, target) or user, and per group only the range of its entries. A stretch, span or
denial costs some 30 bytes, not the few hundred of an object holding datetimes.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from bridge.store import ReportReader
from bridge.store.report_times import EPOCH, MICRO, OPEN

# A denial is written after the removals of its cycle; one further away belongs to another.
DENIAL_WINDOW = timedelta(minutes=10)
SKEW = timedelta(seconds=1)

Binding = tuple[str, str]  # (ic_user_id, target_key)
Range = tuple[int, int]  # [start, stop) of one group's entries in the arrays
_SKEW_US = SKEW // MICRO
_WINDOW_US = DENIAL_WINDOW // MICRO


def instant(us: int) -> datetime:
    return EPOCH + timedelta(0, 0, us)


def moment(us: int) -> datetime | None:
    return None if us == OPEN else EPOCH + timedelta(0, 0, us)


class Interned:
    """Values stored once, each by its number (a few mappings, denial kinds)."""

    def __init__(self) -> None:
        self.number: dict[Hashable, int] = {}
        self.values: list[Any] = []

    def __call__(self, value: Hashable) -> int:
        n = self.number.get(value)
        if n is None:
            n = self.number[value] = len(self.values)
            self.values.append(value)
        return n


_NO_KEY = object()  # what the first group's key follows


class Groups:
    """Entries appended grouped by a key, as SQL ordered them: each key's range of indexes."""

    def __init__(self) -> None:
        self.ranges: dict[Hashable, Range] = {}
        self._key: Hashable = _NO_KEY
        self._start = 0

    def begin(self, key: Hashable, n: int) -> None:
        """`key` starts a new group at index `n`, closing the one before (the caller has seen
        that the key changed)."""
        self.close(n)
        self._key, self._start = key, n

    def close(self, n: int) -> None:
        if n > self._start:
            self.ranges[self._key] = (self._start, n)

    def get(self, key: Hashable) -> range:
        return range(*self.ranges.get(key, (0, 0)))


class Holds:
    """Each (user, target)'s stretches of holding, from its changes in the order written."""

    def __init__(self) -> None:
        self.start = array("q")
        self.end = array("q")
        self.failures = array("q")
        self.errors: dict[int, str] = {}  # stretch -> its last failed removal's error
        self.by = Groups()

    @classmethod
    def read(cls, reader: ReportReader) -> Holds:
        h = cls()
        micros = reader.times.micros
        start, end, failures = h.start, h.end, h.failures
        current = -1  # the stretch open now, if any
        last: Binding | None = None
        for op, status, uid, key, error, outcome_at in reader.changes_by_binding():
            if last is None or uid != last[0] or key != last[1]:
                last = (uid, key)
                h.by.begin(last, len(start))
                current = -1
            if op == "add":
                if status == "ok" and current < 0:
                    current = len(start)
                    start.append(micros(outcome_at))
                    end.append(OPEN)
                    failures.append(0)
            elif current >= 0:
                if status == "ok":
                    end[current] = micros(outcome_at)
                    current = -1
                else:  # failed, or interrupted by a stop: both mean another attempt was needed
                    failures[current] += 1
                    h.errors[current] = error or status
        h.by.close(len(start))
        return h

    def hold_for(self, binding: Binding, seen: int) -> int:
        """The stretch that gave a grant its access, -1 for none: the first not closed before
        PIM's grant was first seen (`seen`, in microseconds; the add is written in the same
        cycle, just after)."""
        end = self.end
        for i in self.by.get(binding):
            if end[i] == OPEN or end[i] >= seen:
                return i
        return -1


class Spans:
    """Each (user, target)'s grants, from activation to end (or none, live without an end)."""

    def __init__(self) -> None:
        self.grant = array("q")
        self.start = array("q")
        self.end = array("q")
        self.mapping = array("l")
        self.mappings = Interned()
        self.by = Groups()

    @classmethod
    def read(cls, reader: ReportReader) -> Spans:
        s = cls()
        micros = reader.times.micros
        last: Binding | None = None
        for gid, uid, key, mapping, start, ended, not_after in reader.spans_by_binding():
            if last is None or uid != last[0] or key != last[1]:
                last = (uid, key)
                s.by.begin(last, len(s.grant))
            s.grant.append(gid)
            s.start.append(micros(start))
            s.end.append(micros(not_after if ended is None else ended))
            s.mapping.append(s.mappings(mapping))
        s.by.close(len(s.grant))
        return s

    def continued_by(self, binding: Binding, grant_id: int, at: int) -> str | None:
        """Another grant of the same user and target live at this one's end (`at`, in
        microseconds) keeps access rightly."""
        grant, start, end = self.grant, self.start, self.end
        for i in self.by.get(binding):
            if start[i] <= at and grant[i] != grant_id and (end[i] == OPEN or end[i] > at):
                return f"{self.mappings.values[self.mapping[i]]} (grant {grant[i]})"
        return None


class Denial(NamedTuple):  # a tuple: made for nearly every ended grant of a report
    at: datetime
    status: str
    done_at: datetime | None
    pruned_at: datetime | None


class Denials:
    """Each user's denials, oldest first."""

    def __init__(self) -> None:
        self.at = array("q")
        self.done = array("q")
        self.pruned = array("q")
        self.what = array("l")  # index into `kinds`: (status, permission set, accounts)
        self.kinds = Interned()
        self.by = Groups()

    @classmethod
    def read(cls, reader: ReportReader) -> Denials:
        d = cls()
        micros = reader.times.micros
        last: str | None = None
        for uid, at, ps_arn, accounts, status, done_at, pruned_at in reader.denials_by_user():
            if uid != last:
                last = uid
                d.by.begin(uid, len(d.at))
            d.at.append(micros(at))
            d.done.append(micros(done_at))
            d.pruned.append(micros(pruned_at))
            kind = (status, ps_arn, tuple(accounts or ()))
            d.what.append(d.kinds(kind))
        d.by.close(len(d.at))
        return d

    def denial_for(
        self, user: str, revoked: int, account: str | None, ps_arn: str | None
    ) -> Denial | None:
        """The denial written for a revocation (at `revoked`, in microseconds)."""
        lo, hi = revoked - _SKEW_US, revoked + _WINDOW_US
        first, stop = self.by.ranges.get(user, (0, 0))
        # Each user's denials are in order of time: the first in the window, by bisection.
        times, kinds = self.at, self.kinds.values
        for i in range(bisect_left(times, lo, first, stop), stop):
            if times[i] > hi:
                break
            status, permission_set, accounts = kinds[self.what[i]]
            if status == "disarmed":  # an armed denial withdrawn: the end it awaited never came
                continue
            # A group membership gives access through every permission set assigned to it.
            if ps_arn is not None and (permission_set != ps_arn or account not in accounts):
                continue
            done, pruned = moment(self.done[i]), moment(self.pruned[i])
            return Denial(instant(times[i]), status, done, pruned)
        return None


@dataclass
class LedgerIndex:
    holds: Holds = field(default_factory=Holds)
    spans: Spans = field(default_factory=Spans)
    held_now: set[Binding] = field(default_factory=set)
    denials: Denials = field(default_factory=Denials)

    @classmethod
    def read(cls, reader: ReportReader) -> LedgerIndex:
        return cls(Holds.read(reader), Spans.read(reader), reader.held(), Denials.read(reader))
