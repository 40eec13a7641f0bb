"""Identity Center's asynchronous requests, which moto answers as if settled at once.

`CreateAccountAssignment`, `DeleteAccountAssignment` and `ProvisionPermissionSet` answer
IN_PROGRESS and only take effect `async_delay` seconds later, when their status turns SUCCEEDED
(or FAILED, when planned with `fail_next`). With a delay of 0 they succeed at once, as moto
does. A second request on the same assignment, or on the same permission set and account,
while one is in progress gets ConflictException. Their Describe*Status calls, missing in moto
for provisioning, read the requests kept here.

Duplicates: moto lists an assignment once per `CreateAccountAssignment`; AWS accepts the
duplicate request and lists the assignment once. `dedupe_assignments=False` keeps moto's way.

Provisioned accounts: moto answers `ListAccountsForProvisionedPermissionSet` and
`ListPermissionSetsProvisionedToAccount` with its own account; here a permission set is
provisioned to an account by `ProvisionPermissionSet` or by a successful account assignment
there, as in AWS.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from moto.core.exceptions import JsonRESTError
from moto.ssoadmin.models import SSOAdminBackend

from bridge.sandbox.aws.api import SSO_PREFIX, ApiError, Backends, Handler

Kind = Literal["create", "delete", "provision"]


@dataclass
class AsyncRequest:
    """One asynchronous Identity Center request and its fate."""

    kind: Kind
    request_id: str
    instance_arn: str
    region: str
    permission_set_arn: str
    account_id: str | None  # None: ProvisionPermissionSet to ALL_PROVISIONED_ACCOUNTS
    principal_type: str = ""
    principal_id: str = ""
    due: float = 0.0  # monotonic time it settles at
    created: float = field(default_factory=time.time)
    fail_reason: str | None = None
    status: str = "IN_PROGRESS"

    @property
    def subject(self) -> tuple[str, ...]:
        """What two concurrent requests must not both be working on."""
        if self.kind == "provision":
            return ("provision", self.permission_set_arn, self.account_id or "*")
        return (
            "assignment",
            self.instance_arn,
            self.account_id or "",
            self.permission_set_arn,
            self.principal_type,
            self.principal_id,
        )

    def overlaps(self, other: AsyncRequest) -> bool:
        """Whether the two work on one thing: one assignment, or one permission set in one
        account (a request to all its accounts overlaps each)."""
        if self.subject == other.subject:
            return True
        mine, theirs = self.subject, other.subject
        return mine[:2] == theirs[:2] == ("provision", self.permission_set_arn) and "*" in (
            mine[2],
            theirs[2],
        )

    @property
    def assignment_key(self) -> tuple[Any, ...]:
        """The arguments by which moto's backend finds, creates and deletes the assignment."""
        return (
            self.instance_arn,
            self.account_id,
            "AWS_ACCOUNT",
            self.permission_set_arn,
            self.principal_type,
            self.principal_id,
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Status": self.status,
            "RequestId": self.request_id,
            "PermissionSetArn": self.permission_set_arn,
            "CreatedDate": self.created,
        }
        if self.status == "FAILED":
            out["FailureReason"] = self.fail_reason
        if self.kind == "provision":
            if self.account_id:
                out["AccountId"] = self.account_id
        else:
            out |= {
                "TargetId": self.account_id,
                "TargetType": "AWS_ACCOUNT",
                "PrincipalType": self.principal_type,
                "PrincipalId": self.principal_id,
            }
        return out


@dataclass
class _FailRule:
    kind: Kind
    account_id: str | None
    permission_set_arn: str | None
    reason: str

    def matches(self, req: AsyncRequest) -> bool:
        return (
            self.kind == req.kind
            and self.account_id in (None, req.account_id)
            and self.permission_set_arn in (None, req.permission_set_arn)
        )


class AsyncRequests:
    """The requests and what they provisioned where. Handlers run under `lock`, which the
    middleware holds for each call; `async_delay` and `dedupe_assignments` may be changed
    while the server runs."""

    def __init__(
        self,
        backends: Backends,
        lock: threading.RLock,
        *,
        async_delay: float = 0.0,
        dedupe_assignments: bool = True,
    ) -> None:
        self.backends = backends
        self.lock = lock
        self.async_delay = async_delay
        self.dedupe_assignments = dedupe_assignments
        self.seeding = False  # set per call under the lock: seeding is never asynchronous
        self._requests: dict[str, AsyncRequest] = {}
        self._provisioned: dict[str, set[str]] = {}  # permission set ARN -> account ids
        # (permission set ARN, account) -> the inline policy as last provisioned there: what a
        # role session in that account is evaluated against (see bridge.sandbox.aws.sessions).
        self.provisioned_policy: dict[tuple[str, str], str] = {}
        self._fail_rules: list[_FailRule] = []

    def handlers(self) -> dict[str, Handler]:
        return {
            SSO_PREFIX + "CreateAccountAssignment": self._create_assignment,
            SSO_PREFIX + "DeleteAccountAssignment": self._delete_assignment,
            SSO_PREFIX + "DescribeAccountAssignmentCreationStatus": self._describe_create,
            SSO_PREFIX + "DescribeAccountAssignmentDeletionStatus": self._describe_delete,
            SSO_PREFIX + "ProvisionPermissionSet": self._provision,
            SSO_PREFIX + "DescribePermissionSetProvisioningStatus": self._describe_provision,
            SSO_PREFIX + "ListAccountsForProvisionedPermissionSet": self._accounts_for_ps,
            SSO_PREFIX + "ListPermissionSetsProvisionedToAccount": self._ps_for_account,
        }

    # -- controls ---------------------------------------------------------------------------

    def fail_next(
        self,
        kind: Kind,
        *,
        account_id: str | None = None,
        permission_set_arn: str | None = None,
        reason: str = "Simulated failure",
    ) -> None:
        with self.lock:
            self._fail_rules.append(_FailRule(kind, account_id, permission_set_arn, reason))

    def requests(self) -> list[AsyncRequest]:
        with self.lock:
            self.settle()
            return list(self._requests.values())

    def reset(self) -> None:
        with self.lock:
            self._requests.clear()
            self._provisioned.clear()
            self._fail_rules.clear()

    def settle(self) -> None:
        """Finish every request whose time has come; called under the lock before each call."""
        now = time.monotonic()
        for req in self._requests.values():
            if req.status == "IN_PROGRESS" and req.due <= now:
                self._finish(req)

    # -- the life of a request --------------------------------------------------------------

    def _start(self, req: AsyncRequest) -> AsyncRequest:
        if any(r.status == "IN_PROGRESS" and r.overlaps(req) for r in self._requests.values()):
            raise ApiError(
                "ConflictException",
                "An operation on this resource is already in progress. Retry later.",
            )
        for rule in self._fail_rules:
            if rule.matches(req):
                self._fail_rules.remove(rule)
                req.fail_reason = rule.reason
                break
        delay = 0.0 if self.seeding else max(0.0, self.async_delay)
        req.due = time.monotonic() + delay
        self._requests[req.request_id] = req
        if delay <= 0:
            self._finish(req)
        return req

    def _finish(self, req: AsyncRequest) -> None:
        if req.fail_reason is not None:
            req.status = "FAILED"
            return
        backend = self.backends.sso(req.region)
        key = req.assignment_key
        if req.kind == "create":
            if not (self.dedupe_assignments and _assignment_exists(backend, key)):
                backend.create_account_assignment(*key)
            self._provisioned.setdefault(req.permission_set_arn, set()).add(req.account_id or "")
        elif req.kind == "delete":
            if _assignment_exists(backend, key):
                backend.delete_account_assignment(*key)
        elif req.account_id:
            self._provisioned.setdefault(req.permission_set_arn, set()).add(req.account_id)
        if req.kind in ("create", "provision"):
            policy = backend.get_inline_policy_for_permission_set(
                req.instance_arn, req.permission_set_arn
            )
            # ALL_PROVISIONED_ACCOUNTS: every account the permission set is provisioned to.
            reached = (
                [req.account_id]
                if req.account_id
                else self._provisioned.get(req.permission_set_arn, ())
            )
            for account in reached:
                self.provisioned_policy[(req.permission_set_arn, account)] = policy
        req.status = "SUCCEEDED"

    def _describe(self, kind: Kind, request_id: str) -> AsyncRequest:
        req = self._requests.get(request_id)
        if req is None or req.kind != kind:
            raise ApiError("ResourceNotFoundException", f"Request {request_id} does not exist")
        return req

    # -- account assignments ----------------------------------------------------------------

    def _assignment_request(self, kind: Kind, params: dict[str, Any], region: str) -> AsyncRequest:
        sso = self.backends.sso(region)
        sso._find_permission_set(params["InstanceArn"], params["PermissionSetArn"])
        if params.get("TargetType") != "AWS_ACCOUNT":
            raise ApiError("ValidationException", "TargetType must be AWS_ACCOUNT")
        return AsyncRequest(
            kind=kind,
            request_id=str(uuid.uuid4()),
            instance_arn=params["InstanceArn"],
            region=region,
            permission_set_arn=params["PermissionSetArn"],
            account_id=params["TargetId"],
            principal_type=params["PrincipalType"],
            principal_id=params["PrincipalId"],
        )

    def _create_assignment(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        req = self._start(self._assignment_request("create", params, region))
        return {"AccountAssignmentCreationStatus": req.to_json()}

    def _delete_assignment(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        req = self._assignment_request("delete", params, region)
        self.backends.sso(region)._find_account(*req.assignment_key)
        return {"AccountAssignmentDeletionStatus": self._start(req).to_json()}

    def _describe_create(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        req = self._describe("create", params["AccountAssignmentCreationRequestId"])
        return {"AccountAssignmentCreationStatus": req.to_json()}

    def _describe_delete(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        req = self._describe("delete", params["AccountAssignmentDeletionRequestId"])
        return {"AccountAssignmentDeletionStatus": req.to_json()}

    # -- permission set provisioning --------------------------------------------------------

    def _provision(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        sso = self.backends.sso(region)
        sso._find_permission_set(params["InstanceArn"], params["PermissionSetArn"])
        target_type = params.get("TargetType")
        if target_type == "AWS_ACCOUNT" and not params.get("TargetId"):
            raise ApiError("ValidationException", "TargetId is required for AWS_ACCOUNT")
        if target_type not in ("AWS_ACCOUNT", "ALL_PROVISIONED_ACCOUNTS"):
            raise ApiError("ValidationException", f"Unknown TargetType {target_type!r}")
        req = AsyncRequest(
            kind="provision",
            request_id=str(uuid.uuid4()),
            instance_arn=params["InstanceArn"],
            region=region,
            permission_set_arn=params["PermissionSetArn"],
            account_id=params.get("TargetId") if target_type == "AWS_ACCOUNT" else None,
        )
        return {"PermissionSetProvisioningStatus": self._start(req).to_json()}

    def _describe_provision(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        req = self._describe("provision", params["ProvisionPermissionSetRequestId"])
        return {"PermissionSetProvisioningStatus": req.to_json()}

    def _accounts_for_ps(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        sso = self.backends.sso(region)
        sso._find_permission_set(params["InstanceArn"], params["PermissionSetArn"])
        return {"AccountIds": sorted(self._provisioned.get(params["PermissionSetArn"], ()))}

    def _ps_for_account(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        account = params["AccountId"]
        arns = sorted(arn for arn, accounts in self._provisioned.items() if account in accounts)
        return {"PermissionSets": arns}


def _assignment_exists(backend: SSOAdminBackend, key: tuple[Any, ...]) -> bool:
    try:
        backend._find_account(*key)
    except JsonRESTError:
        return False
    return True
