"""`[schedule]`: the poll's default follows whether the membership watcher runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.config_schedule import ScheduleConfig


def test_the_poll_is_a_five_minute_safety_net_while_watching() -> None:
    schedule = ScheduleConfig()
    assert schedule.watching and schedule.watch_interval == timedelta(seconds=2)
    assert schedule.poll_every() == timedelta(minutes=5)
    assert schedule.unwatched_every == timedelta(seconds=15)  # owner mappings


def test_the_poll_is_fifteen_seconds_without_watching_or_without_delta() -> None:
    assert ScheduleConfig(watch_interval="0").poll_every() == timedelta(seconds=15)
    assert not ScheduleConfig(watch_interval="0").watching
    assert ScheduleConfig().poll_every(delta=False) == timedelta(seconds=15)


def test_an_explicit_poll_interval_wins_whether_watching_or_not() -> None:
    for watch in ("2s", "0"):
        schedule = ScheduleConfig(watch_interval=watch, poll_interval="1m")
        assert schedule.poll_every() == schedule.poll_every(delta=False) == timedelta(minutes=1)
    assert ScheduleConfig(poll_interval="5s").unwatched_every == timedelta(seconds=5)


def test_a_watch_interval_below_half_a_second_is_refused() -> None:
    with pytest.raises(ValueError, match=r"0 \(off\) or at least 0\.5s"):
        ScheduleConfig(watch_interval="100ms")
