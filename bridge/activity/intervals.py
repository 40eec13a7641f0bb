"""Half-open time intervals [start, end): what a grant needs read and what has been read."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

Interval = tuple[datetime, datetime]


def merged(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping and touching intervals joined; empty ones dropped."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def minus(wanted: Iterable[Interval], have: Iterable[Interval]) -> list[Interval]:
    """The parts of `wanted` that `have` does not cover."""
    covered = merged(have)
    out: list[Interval] = []
    for start, end in merged(wanted):
        cursor = start
        for c_start, c_end in covered:
            if c_end <= cursor or c_start >= end:
                continue
            if c_start > cursor:
                out.append((cursor, c_start))
            cursor = max(cursor, c_end)
            if cursor >= end:
                break
        if cursor < end:
            out.append((cursor, end))
    return out


def covers(have: Iterable[Interval], wanted: Interval) -> bool:
    return not minus([wanted], have)
