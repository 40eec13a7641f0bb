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
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from bridge.config import AwsConfig
from bridge.identity_center.adapter import parse_iso_duration
from bridge.sandbox.aws.api import SEED_HEADER
from bridge.sandbox.aws.async_requests import AsyncRequest, Kind
from bridge.sandbox.aws.middleware import IdentityCenterExtensions
from bridge.sandbox.aws.server import MotoServer
from bridge.sandbox.aws.sessions import Session
from bridge.sandbox.aws.sessions import is_allowed as session_allowed
from bridge.sandbox.aws.trail import SandboxTrail
from bridge.sandbox.lifecycle import ServerLifecycle

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
_accounts = itertools.count(1)


def _sandbox_account_id() -> str:
    # Distinct per sandbox so concurrent sandboxes in one process keep separate moto backends.
    return f"9{os.getpid() % 10**6:06d}{next(_accounts) % 10**5:05d}"


def _mark_seed(request: Any, **_: Any) -> None:
    request.headers.add_header(SEED_HEADER, "1")


class AwsSandbox(ServerLifecycle):
    """moto on 127.0.0.1 with a free port, plus the extensions in `middleware`."""

    region = "us-east-1"

    def __init__(
        self,
        *,
        async_delay: float = 0.0,
        latency: float = 0.0,
        rate_limit: float | None = None,
        dedupe_assignments: bool = True,
        trail: bool = False,
    ) -> None:
        self.account_id = _sandbox_account_id()
        self._with_trail = trail
        self.trail: SandboxTrail | None = None  # with `trail`: sessions' calls go to CloudTrail
        self._settings = {
            "async_delay": async_delay,
            "latency": latency,
            "rate_limit": rate_limit,
            "dedupe_assignments": dedupe_assignments,
        }
        self._ext: IdentityCenterExtensions | None = None
        self._server: MotoServer | None = None
        self.endpoint_url = ""
        self._session = boto3.session.Session()
        self._clients: dict[tuple[str, int, bool], BaseClient] = {}
        self._clients_lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self.scp_policy_id: str | None = None  # an SCP to evaluate sessions against
        self.instance_arn = ""
        self.identity_store_id = ""

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

    # -- clients and config -----------------------------------------------------------------

    def client(self, service: str, *, max_attempts: int = 1) -> BaseClient:
        """A boto3 client on the sandbox with dummy credentials; its calls are counted."""
        return self._client(service, max_attempts, seed=False)

    def _seed_client(self, service: str) -> BaseClient:
        """A client whose calls skip latency, throttling, faults and counters."""
        return self._client(service, 1, seed=True)

    def _client(self, service: str, max_attempts: int, *, seed: bool) -> BaseClient:
        if not self.endpoint_url:
            raise RuntimeError("AwsSandbox is not started")
        key = (service, max_attempts, seed)
        with self._clients_lock:
            if key not in self._clients:
                # One session for all clients: it loads each service model once.
                c = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
                    config=Config(retries={"mode": "standard", "total_max_attempts": max_attempts}),
                )
                if seed:
                    c.meta.events.register("before-sign.*.*", _mark_seed)
                self._clients[key] = c
            return self._clients[key]

    def aws_config(self, **overrides: Any) -> AwsConfig:
        values: dict[str, Any] = {
            "region": self.region,
            "identity_store_id": self.identity_store_id,
            "instance_arn": self.instance_arn,
            "endpoint_url": self.endpoint_url,
        }
        return AwsConfig(**(values | overrides))

    @staticmethod
    def credentials_env() -> dict[str, str]:
        """Environment variables giving boto3 dummy credentials (never real AWS)."""
        return dict(DUMMY_CREDENTIALS)

    # -- seeding, over HTTP through boto3 ---------------------------------------------------

    def create_user(
        self, user_name: str, display_name: str | None = None, email: str | None = None
    ) -> str:
        display = display_name or user_name.split("@", 1)[0]
        given, _, family = display.partition(" ")
        kwargs: dict[str, Any] = {
            "IdentityStoreId": self.identity_store_id,
            "UserName": user_name,
            "DisplayName": display,
            "Name": {"GivenName": given or display, "FamilyName": family or display},
        }
        if email:
            kwargs["Emails"] = [{"Value": email, "Type": "work", "Primary": True}]
        return str(self._seed_client("identitystore").create_user(**kwargs)["UserId"])

    def create_group(self, display_name: str, description: str | None = None) -> str:
        kwargs = {"IdentityStoreId": self.identity_store_id, "DisplayName": display_name}
        if description:
            kwargs["Description"] = description
        return str(self._seed_client("identitystore").create_group(**kwargs)["GroupId"])

    def create_permission_set(
        self, name: str, session_duration: str = "PT1H", inline_policy: str | None = None
    ) -> str:
        sso = self._seed_client("sso-admin")
        arn = str(
            sso.create_permission_set(
                InstanceArn=self.instance_arn, Name=name, SessionDuration=session_duration
            )["PermissionSet"]["PermissionSetArn"]
        )
        if inline_policy:
            sso.put_inline_policy_to_permission_set(
                InstanceArn=self.instance_arn, PermissionSetArn=arn, InlinePolicy=inline_policy
            )
        return arn

    def add_member(self, group_id: str, user_id: str) -> str:
        return str(
            self._seed_client("identitystore").create_group_membership(
                IdentityStoreId=self.identity_store_id,
                GroupId=group_id,
                MemberId={"UserId": user_id},
            )["MembershipId"]
        )

    def assign(
        self,
        account_id: str,
        permission_set_arn: str,
        principal_id: str,
        principal_type: str = "USER",
    ) -> None:
        """Create an assignment that takes effect at once, whatever `async_delay` is."""
        self._seed_client("sso-admin").create_account_assignment(
            InstanceArn=self.instance_arn,
            TargetId=account_id,
            TargetType="AWS_ACCOUNT",
            PermissionSetArn=permission_set_arn,
            PrincipalType=principal_type,
            PrincipalId=principal_id,
        )

    def members(self, group_id: str) -> list[str]:
        pages = self._seed_client("identitystore").get_paginator("list_group_memberships")
        return [
            m["MemberId"]["UserId"]
            for page in pages.paginate(IdentityStoreId=self.identity_store_id, GroupId=group_id)
            for m in page["GroupMemberships"]
        ]

    def assignments(self, account_id: str, permission_set_arn: str) -> list[tuple[str, str]]:
        """(principal type, principal id) pairs as ListAccountAssignments lists them."""
        pages = self._seed_client("sso-admin").get_paginator("list_account_assignments")
        return [
            (a["PrincipalType"], a["PrincipalId"])
            for page in pages.paginate(
                InstanceArn=self.instance_arn,
                AccountId=account_id,
                PermissionSetArn=permission_set_arn,
            )
            for a in page["AccountAssignments"]
        ]

    # -- simulated role sessions (see aws_sessions) -----------------------------------------

    def _holds(self, user_id: str, account_id: str, permission_set_arn: str) -> bool:
        principals = self.assignments(account_id, permission_set_arn)
        if ("USER", user_id) in principals:
            return True
        groups = {pid for ptype, pid in principals if ptype == "GROUP"}
        if not groups:
            return False
        pages = self._seed_client("identitystore").get_paginator(
            "list_group_memberships_for_member"
        )
        return any(
            m["GroupId"] in groups
            for page in pages.paginate(
                IdentityStoreId=self.identity_store_id, MemberId={"UserId": user_id}
            )
            for m in page["GroupMemberships"]
        )

    def issue_session(
        self, user_id: str, permission_set_arn: str, account_id: str, issued_at: datetime
    ) -> str:
        """Sign the user in through the permission set, as the AWS access portal would; refused
        (PermissionError) unless the user holds the assignment, directly or through a group."""
        if not self._holds(user_id, account_id, permission_set_arn):
            raise PermissionError(
                f"{user_id} holds no assignment of {permission_set_arn} on {account_id}"
            )
        described = self._seed_client("sso-admin").describe_permission_set(
            InstanceArn=self.instance_arn, PermissionSetArn=permission_set_arn
        )["PermissionSet"]
        duration = parse_iso_duration(described.get("SessionDuration") or "PT1H")
        session = Session(
            str(uuid.uuid4()), user_id, permission_set_arn, account_id, issued_at, duration
        )
        with self._clients_lock:
            self._sessions[session.session_id] = session
        return session.session_id

    def is_allowed(
        self, session_id: str, action: str = "s3:ListBucket", now: datetime | None = None
    ) -> bool:
        """Whether the session may still call `action`: not expired, not denied by the
        permission set's inline policy as last provisioned to the session's account (as in
        AWS, a policy change reaches an account's role only when provisioned there), nor by
        the SCP named in `scp_policy_id` (every sandbox account is a member account)."""
        session = self._sessions[session_id]
        policy = self.ext.async_requests.provisioned_policy.get(
            (session.permission_set_arn, session.account_id), ""
        )
        when = now or datetime.now(UTC)
        allowed = session_allowed(policy, session, action, when)
        if allowed and self.scp_policy_id:
            scp = self._seed_client("organizations").describe_policy(PolicyId=self.scp_policy_id)
            allowed = session_allowed(scp["Policy"]["Content"], session, action, when)
        if self.trail is not None:
            self.trail.record(session, action, when, allowed)
        return allowed

    def session(self, session_id: str) -> Session:
        return self._sessions[session_id]

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
