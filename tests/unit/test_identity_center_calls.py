"""Rate limiting, retries, error translation and small helpers of the Identity Center adapter,
on virtual time."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from bridge.errors import SinkError
from bridge.identity_center.adapter import parse_iso_duration
from bridge.identity_center.cache import TtlCache
from bridge.identity_center.calls import (
    RETRY_CODES,
    AwsCallError,
    Backoff,
    CallPolicy,
    to_sink_error,
)
from bridge.identity_center.ratelimit import TokenBucket


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client_error(
    code: str, operation: str = "CreateAccountAssignment", status: int = 400
) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": f"{code} here"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


def failing(*errors: Exception) -> Any:
    """A fake AWS call that raises `errors` in turn, then answers."""
    queue = list(errors)
    calls: list[int] = []

    def call(**_: Any) -> dict[str, Any]:
        calls.append(1)
        if queue:
            raise queue.pop(0)
        return {"ok": True}

    call.calls = calls  # type: ignore[attr-defined]
    return call


def policy(t: VirtualTime, attempts: int = 5, rate: float | None = None) -> CallPolicy:
    return CallPolicy(
        calls_per_second=rate,
        backoff=Backoff(base=0.1, cap=1.0, attempts=attempts),
        sleep=t.sleep,
        clock=t.clock,
        rng=random.Random(7),
    )


def test_throttling_and_conflicts_are_retried_until_the_call_succeeds() -> None:
    t = VirtualTime()
    fn = failing(client_error("ThrottlingException"), client_error("ConflictException"))

    assert policy(t).call("CreateAccountAssignment", fn) == {"ok": True}
    assert len(fn.calls) == 3
    assert len(t.sleeps) == 2


def test_a_permanent_error_is_not_retried() -> None:
    t = VirtualTime()
    fn = failing(client_error("AccessDeniedException"))

    with pytest.raises(ClientError):
        policy(t).call("CreateAccountAssignment", fn)
    assert len(fn.calls) == 1


def test_retries_stop_after_the_last_attempt() -> None:
    t = VirtualTime()
    fn = failing(*[client_error("ThrottlingException")] * 10)

    with pytest.raises(ClientError):
        policy(t, attempts=4).call("ListAccountAssignments", fn)
    assert len(fn.calls) == 4


def test_a_code_left_out_of_retry_on_is_raised_at_once() -> None:
    t = VirtualTime()
    fn = failing(client_error("ConflictException"))

    with pytest.raises(ClientError):
        policy(t).call("CreateGroupMembership", fn, retry_on=RETRY_CODES - {"ConflictException"})
    assert len(fn.calls) == 1


def test_connection_failures_are_retried() -> None:
    t = VirtualTime()
    fn = failing(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))

    assert policy(t).call("GetUserId", fn) == {"ok": True}


def test_backoff_waits_are_full_jitter_under_a_growing_cap() -> None:
    backoff = Backoff(base=0.1, cap=1.0)
    rng = random.Random(1)

    for attempt in range(8):
        bound = min(1.0, 0.1 * 2**attempt)
        waits = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= w <= bound for w in waits)
        assert max(waits) > bound * 0.8  # spread over the whole range, not a fixed step


def test_rate_limit_spaces_calls_after_the_burst() -> None:
    t = VirtualTime()
    p = policy(t, rate=20)

    for _ in range(60):
        p.call("ListGroupMemberships", failing())

    # 20 at once, then 40 more at 20 per second.
    assert t.now == pytest.approx(2.0, abs=0.05)


def test_token_bucket_refuses_over_the_rate_and_refills() -> None:
    t = VirtualTime()
    bucket = TokenBucket(5, clock=t.clock)

    assert [bucket.try_acquire() for _ in range(6)] == [True] * 5 + [False]
    t.now += 0.2
    assert bucket.try_acquire()
    assert not bucket.try_acquire()


def test_a_revoking_call_takes_the_next_token_before_callers_that_waited_longer() -> None:
    bucket = TokenBucket(4, burst=1)
    bucket.acquire()  # empty: the next token comes in 250 ms
    order: list[str] = []

    def take(name: str, urgent: bool) -> None:
        bucket.acquire(urgent=urgent)
        order.append(name)

    waiting = [threading.Thread(target=take, args=(f"grant{i}", False)) for i in range(3)]
    for t in waiting:
        t.start()
    time.sleep(0.05)
    revoke = threading.Thread(target=take, args=("revoke", True))
    revoke.start()
    for t in (*waiting, revoke):
        t.join(timeout=10)

    assert order[0] == "revoke"
    assert sorted(order[1:]) == ["grant0", "grant1", "grant2"]


@pytest.mark.parametrize(
    ("code", "temporary"),
    [
        ("ThrottlingException", True),
        ("ConflictException", True),
        ("InternalServerException", True),
        ("AccessDeniedException", False),
        ("ValidationException", False),
        ("ResourceNotFoundException", False),
    ],
)
def test_aws_errors_become_sink_errors_that_say_whether_to_retry(
    code: str, temporary: bool
) -> None:
    err = to_sink_error(client_error(code), "Add")

    assert isinstance(err, SinkError)
    assert isinstance(err, AwsCallError)
    assert err.temporary is temporary
    assert err.code == code
    assert str(err).startswith(f"CreateAccountAssignment failed: {code}")


def test_an_html_500_page_is_a_temporary_error() -> None:
    err = to_sink_error(
        ClientError(
            {
                "Error": {"Code": "500", "Message": "<html>"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
            "X",
        ),
        "X",
    )

    assert err.code == "HTTP500"
    assert err.temporary


@pytest.mark.parametrize(
    ("error", "unsettled"),
    [
        (client_error("ThrottlingException"), False),  # refused: nothing was done
        (client_error("ConflictException"), False),
        (client_error("ValidationException"), False),
        (client_error("InternalServerException", status=500), True),  # may have been done
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), False),  # never sent
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), True),  # sent, answer lost
    ],
)
def test_a_write_failure_says_whether_aws_may_have_carried_it_out(
    error: Exception, unsettled: bool
) -> None:
    assert to_sink_error(error, "CreateGroupMembership").unsettled is unsettled


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT1H", timedelta(hours=1)),
        ("PT2H30M", timedelta(hours=2, minutes=30)),
        ("PT12H", timedelta(hours=12)),
        ("P1D", timedelta(days=1)),
        (3600, timedelta(hours=1)),
    ],
)
def test_session_durations_parse_from_iso_8601(text: str | int, expected: timedelta) -> None:
    assert parse_iso_duration(text) == expected


@pytest.mark.parametrize("text", ["1h", "PT", "P", ""])
def test_malformed_session_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso_duration(text)


def test_cached_misses_expire_so_a_new_user_is_found() -> None:
    t = VirtualTime()
    cache: TtlCache[str, str | None] = TtlCache(clock=t.clock)
    cache.put("ada", None, 30)

    assert cache.get("ada") == (True, None)
    t.now += 30
    assert cache.get("ada") == (False, None)
