"""The retry policy every Graph reader shares: which statuses are retried, and how long a
`Retry-After` header asks to wait, as delta-seconds or as an HTTP-date (RFC 9110)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bridge.graph.client import RETRYABLE, Reply, RetryPolicy, retry_after

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def waiting(value: str) -> Reply:
    return Reply(429, {"Retry-After": value})


def at_now() -> float:
    return NOW.timestamp()


@pytest.mark.parametrize(("value", "seconds"), [("7", 7.0), ("0", 0.0), ("0.05", 0.05)])
def test_retry_after_in_seconds(value: str, seconds: float) -> None:
    assert retry_after(waiting(value)) == seconds


def test_retry_after_as_an_http_date_is_the_time_left_until_it() -> None:
    header = format_datetime(NOW + timedelta(seconds=12), usegmt=True)
    assert header.endswith("GMT")
    assert retry_after(waiting(header), now=at_now) == 12.0


def test_retry_after_as_an_http_date_with_an_unnamed_zone_is_read_as_gmt() -> None:
    # `-0000` parses to a naive datetime, which must not be taken as local time.
    assert retry_after(waiting("Tue, 24 Nov 2026 12:00:30 -0000"), now=at_now) == 30.0


def test_retry_after_in_the_past_asks_for_no_wait() -> None:
    header = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert retry_after(waiting(header), now=at_now) == 0.0


def test_retry_after_header_name_is_case_insensitive() -> None:
    assert retry_after(Reply(503, {"retry-after": "3"})) == 3.0


@pytest.mark.parametrize("value", ["", "  ", "soon", "Someday, 99 Nov 2026"])
def test_unreadable_or_missing_retry_after_is_none(value: str) -> None:
    assert retry_after(waiting(value)) is None
    assert retry_after(Reply(429)) is None


def test_retryable_statuses_are_throttling_and_outages() -> None:
    assert {429, 502, 503, 504} == RETRYABLE


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retryable_status_is_retried_up_to_max_retries(status: int) -> None:
    policy = RetryPolicy(max_retries=2)
    assert [policy.allows(Reply(status), n) for n in range(3)] == [True, True, False]


@pytest.mark.parametrize("status", [0, 200, 400, 401, 403, 404, 500, 501])
def test_other_statuses_are_never_retried(status: int) -> None:
    assert not RetryPolicy().allows(Reply(status), 0)


def test_without_retry_after_the_wait_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(backoff=1.0, max_backoff=5.0)
    assert [policy.delay(Reply(503), n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_retry_after_wins_over_backoff_but_only_up_to_max_delay() -> None:
    policy = RetryPolicy(backoff=4.0, max_delay=10.0)
    assert policy.delay(waiting("1"), 3) == 1.0
    assert policy.delay(waiting("3600"), 0) == 10.0
