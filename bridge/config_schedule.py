"""The `[schedule]` section: what triggers a cycle, and how often."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from bridge.config_types import Duration, Section

# The poll while the membership watcher sees every change, and while it cannot (watching off,
# Graph without delta, owner mappings, which group delta does not track).
WATCHED_POLL = timedelta(minutes=5)
UNWATCHED_POLL = timedelta(seconds=15)


class ScheduleConfig(Section):
    watch_interval: Duration = Field(
        timedelta(seconds=2),
        description="How often the member mappings' Entra groups are asked what changed (Graph "
        "group delta); a changed group is read and planned at once. 0 turns watching off.",
    )
    poll_interval: Duration | None = Field(
        None,
        description="How often every mapping is read in full: 5m while watching, 15s when "
        "watch_interval = 0 or Graph offers no delta. A value set here is used either way.",
    )
    drift_interval: Duration = Field(
        timedelta(minutes=10), description="How often managed targets are read live from AWS."
    )

    @field_validator("poll_interval", "drift_interval")
    @classmethod
    def _positive(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and v.total_seconds() < 1:
            raise ValueError("must be at least 1s")
        return v

    @field_validator("watch_interval")
    @classmethod
    def _watch(cls, v: timedelta) -> timedelta:
        if v and v.total_seconds() < 0.5:
            raise ValueError("must be 0 (off) or at least 0.5s")
        return v

    @property
    def watching(self) -> bool:
        return self.watch_interval > timedelta(0)

    def poll_every(self, *, delta: bool = True) -> timedelta:
        """The full poll's period: the configured one, else slow while the watcher sees every
        member mapping change (`delta`: Graph answers group delta), fast otherwise."""
        if self.poll_interval is not None:
            return self.poll_interval
        return WATCHED_POLL if self.watching and delta else UNWATCHED_POLL

    @property
    def unwatched_every(self) -> timedelta:
        """The poll of what delta cannot see (owner mappings): never slower than the full one."""
        return min(self.poll_every(), UNWATCHED_POLL)
