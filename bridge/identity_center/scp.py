"""Session denial through one Service Control Policy (`[revocation] mechanism = "scp"`).

An SCP applies to every member account without re-provisioning anything, so a denial is in
force as soon as Organizations accepts the update. Its costs: 5,120 characters for all denials,
no effect in the management account, and the bridge's role needs organizations:UpdatePolicy on
that one policy in the management account."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bridge.errors import SinkError
from bridge.identity_center.client import ClientFactory

SCP_LIMIT = 5_120


class ScpTarget:
    limit = SCP_LIMIT

    def __init__(
        self,
        policy_id: str,
        client_factory: ClientFactory,
        session_duration: Callable[[], timedelta],
    ) -> None:
        self.policy_id = policy_id
        self.name = f"scp:{policy_id}"
        self._org: Any = client_factory("organizations")
        self._session_duration = session_duration

    def _call(self, operation: str, **kw: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = getattr(self._org, operation)(**kw)
            return answer
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            temporary = code in ("TooManyRequestsException", "ConcurrentModificationException")
            raise SinkError(f"organizations {operation}: {code}", temporary=temporary) from None
        except BotoCoreError as exc:
            raise SinkError(f"organizations {operation}: {exc}", temporary=True) from None

    def read(self) -> str:
        return str(self._call("describe_policy", PolicyId=self.policy_id)["Policy"]["Content"])

    def write(self, document: str) -> None:
        # An SCP cannot be empty: an Allow-all keeps the attached policy harmless.
        self._call("update_policy", PolicyId=self.policy_id, Content=document or ALLOW_ALL)

    def session_duration(self) -> timedelta:
        # One policy serves every permission set: keep denials for the longest session.
        return self._session_duration()

    def enforce(self, accounts: Sequence[str]) -> None:
        """Nothing to provision: an SCP is in force once the update is accepted."""


ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
