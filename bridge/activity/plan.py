"""Which log files a set of grants needs: for each account and region a grant's roles live in,
the files delivered from its start to its end plus `after_end` (the sessions it issued may run
on) plus `delivery_delay` (CloudTrail delivers a call's record minutes after it), in whole
minutes, never past the last settled minute."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.activity.intervals import Interval, merged
from bridge.activity.matching import GrantWindow
from bridge.config_activity import ActivityConfig

# Files named after the current minute may still arrive; two minutes back they have.
SETTLE = timedelta(minutes=2)
MINUTE = timedelta(minutes=1)
Place = tuple[str, str]  # (account, region)


def floor_minute(when: datetime) -> datetime:
    return when.replace(second=0, microsecond=0)


def ceil_minute(when: datetime) -> datetime:
    down = floor_minute(when)
    return down if down == when else down + MINUTE


@dataclass(frozen=True)
class ReadPlan:
    after_end: timedelta
    delivery_delay: timedelta
    settled: datetime  # files delivered before this minute are all there

    @classmethod
    def of(cls, config: ActivityConfig, now: datetime, settled: datetime | None = None) -> ReadPlan:
        """`settled`: when files delivered before some other time are known to be all there
        (the sandbox's trail, once flushed)."""
        return cls(config.after_end, config.delivery_delay, settled or floor_minute(now - SETTLE))

    def window_end(self, w: GrantWindow) -> datetime | None:
        """The end of the files the window needs; None while it has no end."""
        if w.end is None:
            return None
        return ceil_minute(w.end + self.after_end + self.delivery_delay)

    def needs(self, w: GrantWindow) -> Interval | None:
        end = self.window_end(w)
        span = (floor_minute(w.start), min(end or self.settled, self.settled))
        return span if span[0] < span[1] else None

    def complete(self, w: GrantWindow) -> bool:
        """Whether reading what it needs now reads the whole window."""
        end = self.window_end(w)
        return end is not None and end <= self.settled

    def wanted(
        self, windows: Iterable[GrantWindow], regions: Callable[[str], list[str]]
    ) -> dict[Place, list[Interval]]:
        found: dict[Place, list[Interval]] = {}
        for w in windows:
            span = self.needs(w)
            if span is None:
                continue
            for region in regions(w.account_id):
                found.setdefault((w.account_id, region), []).append(span)
        return {place: merged(spans) for place, spans in found.items()}

    def matching_span(self, todo: dict[Place, list[Interval]]) -> Interval | None:
        """The grant windows that files delivered in `todo` can hold calls of: a file holds
        calls made up to `delivery_delay` before it, by sessions up to `after_end` old."""
        spans = [s for spans in todo.values() for s in spans]
        if not spans:
            return None
        start = min(s for s, _ in spans) - self.delivery_delay - self.after_end
        return start, max(e for _, e in spans)
