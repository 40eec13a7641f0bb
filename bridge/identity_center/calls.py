"""How every AWS call is made: rate-limited, retried with backoff, and its failure translated.

Identity Center allows about 20 admin calls per second in total and answers over it with
ThrottlingException; assignment writes race with ConflictException, which AWS says to retry.
Both, and server-side or connection failures, are retried here with exponential backoff and full
jitter. Whatever still fails leaves as `AwsCallError`, a `SinkError` carrying the AWS error code,
so no botocore exception travels past the adapter.

A ResourceNotFoundException is often no failure at all: for a lookup it is the answer "there is
none", for a deletion the goal already reached. `found_or_none` is the one place that tells it
apart from a failure; `not_found` is the one error for a name or id that resolves to nothing.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from bridge.errors import SinkError
from bridge.identity_center.ratelimit import TokenBucket

THROTTLING = "ThrottlingException"
CONFLICT = "ConflictException"
NOT_FOUND = "ResourceNotFoundException"
# Codes for which the same call may succeed later.
TEMPORARY_CODES = frozenset(
    {
        THROTTLING,
        CONFLICT,
        "TooManyRequestsException",
        "InternalServerException",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ExpiredTokenException",
    }
)
RETRY_CODES = frozenset(TEMPORARY_CODES - {"ExpiredTokenException"})
# The calls that end access or deny older sessions. When the instance's 20 calls/s are scarce
# they go before the calls that grant access: a late removal is a gap in security, a late grant
# an inconvenience.
REVOKING = frozenset(
    {
        "DeleteGroupMembership",
        "GetGroupMembershipId",
        "DeleteAccountAssignment",
        "DescribeAccountAssignmentDeletionStatus",
        "ListAccountAssignmentsForPrincipal",
        "GetInlinePolicyForPermissionSet",
        "PutInlinePolicyToPermissionSet",
        "DeleteInlinePolicyFromPermissionSet",
        "ProvisionPermissionSet",
        "DescribePermissionSetProvisioningStatus",
    }
)
CONNECTION = "ConnectionError"  # pseudo-code for failures that never reached AWS

P = ParamSpec("P")
R = TypeVar("R")


# Failures after which AWS may have carried the call out: it was sent, and no answer said no.
UNSETTLED_CODES = frozenset(
    {"InternalServerException", "RequestTimeout", "RequestTimeoutException"}
)


class AwsCallError(SinkError):
    """An AWS call failed. `code` is the AWS error code, e.g. ThrottlingException."""

    def __init__(
        self, operation: str, code: str, message: str, *, temporary: bool, unsettled: bool = False
    ) -> None:
        super().__init__(
            f"{operation} failed: {code}: {message}", temporary=temporary, unsettled=unsettled
        )
        self.operation = operation
        self.code = code


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore failure ('' if it has none)."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if not code or code.isdigit():  # an HTML 500 page, e.g. moto's unimplemented calls
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            return f"HTTP{status}" if status else "Unknown"
        return code
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return CONNECTION
    return type(exc).__name__


def is_temporary(exc: BaseException) -> bool:
    code = error_code(exc)
    return code in TEMPORARY_CODES or code == CONNECTION or code.startswith("HTTP5")


def to_sink_error(exc: BaseException, operation: str) -> AwsCallError:
    """`operation` names the call unless botocore knows which one failed."""
    if isinstance(exc, ClientError):
        message = str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
        operation = exc.operation_name or operation
    else:
        message = str(exc)
    code = error_code(exc)
    unsettled = (
        code in UNSETTLED_CODES
        or code.startswith("HTTP5")
        or isinstance(exc, ReadTimeoutError | ConnectionClosedError)  # sent, answer lost
    )
    return AwsCallError(operation, code, message, temporary=is_temporary(exc), unsettled=unsettled)


def translated(operation: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """For the adapter's public methods, which raise only SinkError: whatever botocore raised
    leaves as an `AwsCallError`, named `operation` when botocore cannot say which call failed."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise to_sink_error(exc, operation) from exc

        return inner

    return wrap


def is_not_found(exc: BaseException) -> bool:
    """Whether AWS answered that the resource named does not exist."""
    return isinstance(exc, ClientError) and error_code(exc) == NOT_FOUND


def found_or_none(call: Callable[[], R]) -> R | None:
    """`call()`, or None when AWS answers that what it names does not exist. Every other
    failure is raised as it is."""
    try:
        return call()
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        return None


def not_found(operation: str, message: str) -> AwsCallError:
    """The permanent error for a name or id that resolves to nothing; `message` says which."""
    return AwsCallError(operation, NOT_FOUND, message, temporary=False)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, base * 2**n))."""

    base: float = 0.2
    cap: float = 5.0
    attempts: int = 8

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.cap, self.base * 2**attempt))


class CallPolicy:
    """Runs AWS calls under one rate limit and one retry policy; shared by all threads."""

    def __init__(
        self,
        *,
        calls_per_second: float | None = 20.0,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limiter = (
            TokenBucket(calls_per_second, clock=clock, sleep=sleep) if calls_per_second else None
        )
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self._lock = threading.Lock()
        self.retries = 0  # how many attempts were repeated, for metrics and tests

    def call(
        self,
        operation: str,
        fn: Callable[..., dict[str, Any]],
        /,
        *,
        retry_on: Collection[str] = RETRY_CODES,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """`fn(**kwargs)`, retried while it fails with a code in `retry_on` (or a connection or
        5xx failure). Other botocore failures are raised as they are, for the caller to judge
        (a ResourceNotFoundException often means 'already done')."""
        attempt = 0
        while True:
            if self.limiter is not None:
                self.limiter.acquire(urgent=operation in REVOKING)
            try:
                return fn(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                code = error_code(exc)
                retryable = code in retry_on or code == CONNECTION or code.startswith("HTTP5")
                if not retryable or attempt + 1 >= self.backoff.attempts:
                    raise
                self.sleep(self.backoff.delay(attempt, self.rng))
                attempt += 1
                with self._lock:
                    self.retries += 1
