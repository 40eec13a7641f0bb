"""The AWS side of the sandbox: moto's server on loopback, with Identity Center extensions.

    with AwsSandbox(async_delay=0.2) as aws:
        user = aws.create_user("ada@example.com")
        ps = aws.create_permission_set("Admin")
        AwsIdentityCenter(aws.aws_config())  # needs aws.credentials_env() in os.environ

moto creates one Identity Center instance per account and region (sso-admin ListInstances);
the sandbox reads its ARN and Identity Store id from there. Every request is routed to the
sandbox's own moto account, so sandboxes in one process do not see each other's data.
What moto lacks and what the sandbox adds is listed in `bridge.sandbox.aws.middleware`;
simulated role sessions (`issue_session`, `is_allowed`), which show a stale session denied by the
permission set's inline policy, are described in `bridge.sandbox.aws.sessions`.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from typing import Any, TypedDict

from bridge.sandbox.aws.async_requests import AsyncRequest, Kind
from bridge.sandbox.aws.middleware import IdentityCenterExtensions
from bridge.sandbox.aws.role_sessions import RoleSessions
from bridge.sandbox.aws.server import MotoServer
from bridge.sandbox.aws.trail import SandboxTrail
from bridge.sandbox.lifecycle import ServerLifecycle

_accounts = itertools.count(1)


def _sandbox_account_id() -> str:
    # Distinct per sandbox so concurrent sandboxes in one process keep separate moto backends.
    return f"9{os.getpid() % 10**6:06d}{next(_accounts) % 10**5:05d}"


class _Settings(TypedDict):
    """The extensions' knobs as given; they take effect when the server starts."""

    async_delay: float
    latency: float
    rate_limit: float | None
    dedupe_assignments: bool


class AwsSandbox(ServerLifecycle, RoleSessions):
    """moto on 127.0.0.1 with a free port, plus the extensions in `middleware`. Its clients
    come from `clients`, seeding from `seeding`, simulated sessions from `role_sessions`."""

    def __init__(
        self,
        *,
        async_delay: float = 0.0,
        latency: float = 0.0,
        rate_limit: float | None = None,
        dedupe_assignments: bool = True,
        trail: bool = False,
    ) -> None:
        super().__init__()
        self.account_id = _sandbox_account_id()
        self._with_trail = trail  # sessions' calls written as an organization trail's logs
        self._settings: _Settings = {
            "async_delay": async_delay,
            "latency": latency,
            "rate_limit": rate_limit,
            "dedupe_assignments": dedupe_assignments,
        }
        self._ext: IdentityCenterExtensions | None = None
        self._server: MotoServer | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def _wrap(self, app: Any) -> IdentityCenterExtensions:
        self._ext = IdentityCenterExtensions(
            app, account_id=self.account_id, default_region=self.region, **self._settings
        )
        return self._ext

    def _start(self) -> None:
        self._server = MotoServer("127.0.0.1", 0, self._wrap)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        instance = self._seed_client("sso-admin").list_instances()["Instances"][0]
        self.instance_arn = instance["InstanceArn"]
        self.identity_store_id = instance["IdentityStoreId"]
        if self._with_trail:
            self.trail = self._start_trail()

    @property
    def ext(self) -> IdentityCenterExtensions:
        if self._ext is None:
            raise RuntimeError("AwsSandbox is not started")
        return self._ext

    def _provisioned_policy(self, permission_set_arn: str, account_id: str) -> str:
        return self.ext.async_requests.provisioned_policy.get((permission_set_arn, account_id), "")

    # -- knobs (readable and settable while running) ----------------------------------------

    @property
    def calls(self) -> Counter[str]:
        """Identity Center calls by operation name, seeding excluded."""
        return self.ext.front_door.calls

    @property
    def throttled(self) -> int:
        return self.ext.front_door.throttled

    @property
    def async_delay(self) -> float:
        return self.ext.async_requests.async_delay

    @async_delay.setter
    def async_delay(self, seconds: float) -> None:
        self.ext.async_requests.async_delay = seconds

    @property
    def latency(self) -> float:
        return self.ext.front_door.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.ext.front_door.latency = seconds

    def set_rate_limit(self, calls_per_second: float | None) -> None:
        self.ext.front_door.set_rate_limit(calls_per_second)

    def fail_next_assignment(
        self,
        account_id: str | None = None,
        permission_set_arn: str | None = None,
        *,
        reason: str = "Simulated failure",
        deletion: bool = False,
    ) -> None:
        """The next creation (or deletion) request matching ends FAILED; None matches any."""
        kind: Kind = "delete" if deletion else "create"
        self.ext.async_requests.fail_next(
            kind, account_id=account_id, permission_set_arn=permission_set_arn, reason=reason
        )

    def fail_next_provisioning(
        self,
        account_id: str | None = None,
        permission_set_arn: str | None = None,
        *,
        reason: str = "Simulated failure",
    ) -> None:
        self.ext.async_requests.fail_next(
            "provision", account_id=account_id, permission_set_arn=permission_set_arn, reason=reason
        )

    def conflict_next(self, n: int = 1) -> None:
        """ConflictException on the next n Create/DeleteAccountAssignment calls."""
        self.ext.front_door.conflict_next(n)

    def requests(self) -> list[AsyncRequest]:
        """Every asynchronous request so far, settled as of now."""
        return self.ext.async_requests.requests()

    # -- CloudTrail (see trail) --------------------------------------------------------------

    def _start_trail(self) -> SandboxTrail:
        ids, sso = self._seed_client("identitystore"), self._seed_client("sso-admin")

        def user_name(user_id: str) -> str:
            answer = ids.describe_user(IdentityStoreId=self.identity_store_id, UserId=user_id)
            return str(answer["UserName"])

        def permission_set_name(arn: str) -> str:
            answer = sso.describe_permission_set(
                InstanceArn=self.instance_arn, PermissionSetArn=arn
            )
            return str(answer["PermissionSet"]["Name"])

        trail = SandboxTrail(
            self._seed_client("s3"),
            f"pim-bridge-trail-{self.account_id}",
            self.region,
            user_name,
            permission_set_name,
        )
        trail.create_bucket()
        return trail
