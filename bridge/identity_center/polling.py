"""Waiting for Identity Center's asynchronous requests: CreateAccountAssignment,
DeleteAccountAssignment and ProvisionPermissionSet return a request whose status must be polled,
and boto3 has no waiter for them."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from bridge.identity_center.api import InstanceApi
from bridge.identity_center.calls import AwsCallError

_DONE = ("SUCCEEDED", "FAILED")


class RequestPoller:
    def __init__(self, api: InstanceApi, *, interval: float, timeout: float) -> None:
        self._api = api
        self.interval = interval
        self.timeout = timeout

    def wait(
        self, operation: str, status: dict[str, Any], describe: Callable[[str], dict[str, Any]]
    ) -> dict[str, Any]:
        """Poll the request `status` describes, with `describe(request id)` (one `operation`
        call), until it SUCCEEDED; FAILED or a timeout raises."""
        clock = self._api.clock
        deadline = clock() + self.timeout
        request_id = status["RequestId"]
        # Most requests finish within a second: look early and often, then settle at
        # `interval` so polling does not eat the instance's 20 calls/s.
        delays = (min(self.interval, 0.1 * (n + 1)) for n in itertools.count())
        while status.get("Status") not in _DONE:
            if clock() >= deadline:
                raise AwsCallError(
                    operation,
                    "Timeout",
                    f"request {request_id} still {status.get('Status')} after {self.timeout:g}s",
                    temporary=True,
                    unsettled=True,  # AWS goes on with it
                )
            self._api.sleep(next(delays))
            status = self._api.call(operation, lambda: {"Status": describe(request_id)})["Status"]
        if status["Status"] == "FAILED":
            raise AwsCallError(
                operation,
                "FAILED",
                f"request {request_id} failed: {status.get('FailureReason') or 'no reason given'}",
                temporary=False,
            )
        return status
