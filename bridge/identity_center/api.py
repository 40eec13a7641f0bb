"""One Identity Center instance as the parts of the adapter reach it: its two clients, its ids,
the time the parts wait on, and the one `CallPolicy` every call of every part goes through, so
that all of them together stay under the instance's 20 calls/s."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from bridge.config import AwsConfig
from bridge.identity_center.calls import CallPolicy, found_or_none
from bridge.identity_center.client import ClientFactory

AwsCall = Callable[..., dict[str, Any]]


class InstanceApi:
    def __init__(
        self,
        aws: AwsConfig,
        client_factory: ClientFactory,
        policy: CallPolicy,
        *,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.aws = aws
        # boto3 builds the clients' methods at run time, from the service models.
        self.ids: Any = client_factory("identitystore")
        self.sso: Any = client_factory("sso-admin")
        self.policy = policy
        self.sleep = sleep
        self.clock = clock

    @property
    def store(self) -> dict[str, str]:
        return {"IdentityStoreId": self.aws.identity_store_id}

    @property
    def instance(self) -> dict[str, str]:
        return {"InstanceArn": self.aws.instance_arn}

    def call(self, operation: str, fn: AwsCall, /, **kw: Any) -> dict[str, Any]:
        return self.policy.call(operation, fn, **kw)

    def find(self, operation: str, fn: AwsCall, /, **kw: Any) -> dict[str, Any] | None:
        """`call`, or None when AWS answers that the resource does not exist."""
        return found_or_none(lambda: self.call(operation, fn, **kw))

    def pages(self, operation: str, fn: AwsCall, key: str, /, **kw: Any) -> Iterator[Any]:
        """The items under `key` of every page, each page a call of its own."""
        token: str | None = None
        while True:
            page = self.call(operation, fn, **kw, **({"NextToken": token} if token else {}))
            yield from page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return
