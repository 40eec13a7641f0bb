"""Identity Center behaviour moto lacks, as a WSGI middleware in front of moto's server app.

Each extension below is small and keyed on the `X-Amz-Target` header, so it could move into
moto's `ssoadmin`/`identitystore` response classes unchanged in spirit. State of record stays in
moto's backends; the middleware only keeps what moto has no place for (request statuses, the
accounts a permission set is provisioned to, fault plans).

Missing calls, answered here instead of moto's HTTP 500:
- sso-admin `DescribePermissionSetProvisioningStatus`, `DescribeInstance`,
  `ListTagsForResource`, `TagResource`, `UntagResource` (tags live on moto's permission set);
  identitystore `UpdateGroup` (display name and description), which Terraform sends on change.
- `ListAccountsForProvisionedPermissionSet` / `ListPermissionSetsProvisionedToAccount`:
  moto always answers its own account; here a permission set is provisioned to an account by
  `ProvisionPermissionSet` or by a successful account assignment there, as in AWS.

Behaviour made closer to AWS:
- Asynchronous requests. `CreateAccountAssignment`, `DeleteAccountAssignment` and
  `ProvisionPermissionSet` answer IN_PROGRESS and only take effect `async_delay` seconds later,
  when their status turns SUCCEEDED (or FAILED, when planned with `fail_next`). With a delay
  of 0 they succeed at once, as moto does. A second request on the same assignment, or on the
  same permission set and account, while one is in progress gets ConflictException.
- Duplicates. moto lists an assignment once per `CreateAccountAssignment`; AWS accepts the
  duplicate request and lists the assignment once. `dedupe_assignments=False` keeps moto's way.
- Group memberships. A duplicate `CreateGroupMembership` is a ConflictException and deleting an
  unknown membership id a ResourceNotFoundException (moto accepts both silently).

Faults and load, for tests and benchmarks (none applies to requests carrying `SEED_HEADER`,
which the sandbox's own seeding helpers send):
- `latency`: seconds added to every Identity Center call.
- `rate_limit`: calls per second over both APIs, a token bucket; over it the answer is
  ThrottlingException ("Rate exceeded"), HTTP 400, as AWS answers.
- `conflict_next(n)`: ConflictException on the next n Create/DeleteAccountAssignment calls.
- `calls`: a Counter of operation names, e.g. `calls["CreateAccountAssignment"]`.

Isolation: every request is stamped with moto's `x-moto-account-id` header, so each sandbox in
one process has its own backends (unless MOTO_ACCOUNT_ID is set, which moto ranks first).
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from moto.core.exceptions import JsonRESTError
from moto.identitystore.models import IdentityStoreBackend, identitystore_backends
from moto.ssoadmin.models import SSOAdminBackend, ssoadmin_backends

from bridge.identity_center.ratelimit import TokenBucket

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Kind = Literal["create", "delete", "provision"]

SSO_PREFIX = "SWBExternalService."
IDS_PREFIX = "AWSIdentityStore."
SEED_HEADER = "x-pim-bridge-sandbox-seed"
_SEED_ENVIRON = "HTTP_" + SEED_HEADER.upper().replace("-", "_")
_REGION = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/")
_ASSIGNMENT_STATUS_KEY = {
    "create": "AccountAssignmentCreationStatus",
    "delete": "AccountAssignmentDeletionStatus",
}


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


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


class IdentityCenterExtensions:
    """The middleware. Attributes `async_delay`, `latency` and `dedupe_assignments` may be
    changed while the server runs; use `set_rate_limit` for the rate."""

    def __init__(
        self,
        app: WsgiApp,
        *,
        account_id: str,
        default_region: str,
        async_delay: float = 0.0,
        latency: float = 0.0,
        rate_limit: float | None = None,
        dedupe_assignments: bool = True,
    ) -> None:
        self.app = app
        self.account_id = account_id
        self.default_region = default_region
        self.async_delay = async_delay
        self.latency = latency
        self.dedupe_assignments = dedupe_assignments
        self.calls: Counter[str] = Counter()
        self.throttled = 0
        self._bucket: TokenBucket | None = None
        self.set_rate_limit(rate_limit)
        self._lock = threading.RLock()
        self._requests: dict[str, AsyncRequest] = {}
        self._provisioned: dict[str, set[str]] = {}  # permission set ARN -> account ids
        # (permission set ARN, account) -> the inline policy as last provisioned there: what a
        # role session in that account is evaluated against (see bridge.sandbox.aws.sessions).
        self.provisioned_policy: dict[tuple[str, str], str] = {}
        self._fail_rules: list[_FailRule] = []
        self._conflicts = 0
        self._seeding = False  # set per request under the lock: seeding is never asynchronous
        self._handlers: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            SSO_PREFIX + "CreateAccountAssignment": self._create_assignment,
            SSO_PREFIX + "DeleteAccountAssignment": self._delete_assignment,
            SSO_PREFIX + "DescribeAccountAssignmentCreationStatus": self._describe_create,
            SSO_PREFIX + "DescribeAccountAssignmentDeletionStatus": self._describe_delete,
            SSO_PREFIX + "ProvisionPermissionSet": self._provision,
            SSO_PREFIX + "DescribePermissionSetProvisioningStatus": self._describe_provision,
            SSO_PREFIX + "ListAccountsForProvisionedPermissionSet": self._accounts_for_ps,
            SSO_PREFIX + "ListPermissionSetsProvisionedToAccount": self._ps_for_account,
            SSO_PREFIX + "DescribeInstance": self._describe_instance,
            SSO_PREFIX + "ListTagsForResource": self._list_tags,
            SSO_PREFIX + "TagResource": self._tag,
            SSO_PREFIX + "UntagResource": self._untag,
            IDS_PREFIX + "CreateGroupMembership": self._create_membership,
            IDS_PREFIX + "DeleteGroupMembership": self._delete_membership,
            IDS_PREFIX + "UpdateGroup": self._update_group,
        }

    # -- controls ---------------------------------------------------------------------------

    def set_rate_limit(self, rate: float | None) -> None:
        self._bucket = TokenBucket(rate) if rate else None

    def fail_next(
        self,
        kind: Kind,
        *,
        account_id: str | None = None,
        permission_set_arn: str | None = None,
        reason: str = "Simulated failure",
    ) -> None:
        with self._lock:
            self._fail_rules.append(_FailRule(kind, account_id, permission_set_arn, reason))

    def conflict_next(self, n: int = 1) -> None:
        with self._lock:
            self._conflicts += n

    def requests(self) -> list[AsyncRequest]:
        with self._lock:
            self._settle()
            return list(self._requests.values())

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._provisioned.clear()
            self._fail_rules.clear()
            self._conflicts = 0
            self.calls.clear()
            self.throttled = 0

    # -- WSGI -------------------------------------------------------------------------------

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        # moto ranks this header above the access key: it gives this sandbox its own backends.
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.account_id
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith((SSO_PREFIX, IDS_PREFIX)):
            return self.app(environ, start_response)
        operation = target.split(".", 1)[1]
        body = _read_body(environ)
        region = _region(environ) or self.default_region
        seeding = environ.get(_SEED_ENVIRON) is not None
        try:
            if not seeding:
                self._admit(operation)
            with self._lock:
                self._settle()
            handler = self._handlers.get(target)
            if handler is None:
                return self.app(environ, start_response)
            params = json.loads(body or b"{}")
            with self._lock:
                self._seeding = seeding
                result = handler(params, region)
        except ApiError as err:
            return _respond(
                start_response, err.status, {"__type": err.code, "Message": err.message}
            )
        except JsonRESTError as err:  # moto's own errors raised from its backends
            return _respond(
                start_response, err.code, {"__type": err.error_type, "Message": err.message}
            )
        return _respond(start_response, 200, result)

    def _admit(self, operation: str) -> None:
        """Count, delay and maybe throttle one call, as the API front door would."""
        with self._lock:
            self.calls[operation] += 1
        if self.latency > 0:
            time.sleep(self.latency)
        bucket = self._bucket
        if bucket is not None and not bucket.try_acquire():
            with self._lock:
                self.throttled += 1
            raise ApiError("ThrottlingException", "Rate exceeded")
        if operation in ("CreateAccountAssignment", "DeleteAccountAssignment"):
            with self._lock:
                if self._conflicts > 0:
                    self._conflicts -= 1
                    raise ApiError(
                        "ConflictException",
                        "Another operation on this assignment is in progress. Retry later.",
                    )

    # -- async requests ---------------------------------------------------------------------

    def _sso(self, region: str) -> SSOAdminBackend:
        return ssoadmin_backends[self.account_id][region]

    def _ids(self, region: str) -> IdentityStoreBackend:
        return identitystore_backends[self.account_id][region]

    def _start(self, req: AsyncRequest) -> AsyncRequest:
        if any(
            r.status == "IN_PROGRESS" and r.subject == req.subject for r in self._requests.values()
        ):
            raise ApiError(
                "ConflictException",
                "An operation on this resource is already in progress. Retry later.",
            )
        for rule in self._fail_rules:
            if rule.matches(req):
                self._fail_rules.remove(rule)
                req.fail_reason = rule.reason
                break
        delay = 0.0 if self._seeding else max(0.0, self.async_delay)
        req.due = time.monotonic() + delay
        self._requests[req.request_id] = req
        if delay <= 0:
            self._finish(req)
        return req

    def _settle(self) -> None:
        now = time.monotonic()
        for req in self._requests.values():
            if req.status == "IN_PROGRESS" and req.due <= now:
                self._finish(req)

    def _finish(self, req: AsyncRequest) -> None:
        if req.fail_reason is not None:
            req.status = "FAILED"
            return
        backend = self._sso(req.region)
        key = (
            req.instance_arn,
            req.account_id,
            "AWS_ACCOUNT",
            req.permission_set_arn,
            req.principal_type,
            req.principal_id,
        )
        if req.kind == "create":
            if not (self.dedupe_assignments and self._assignment_exists(backend, key)):
                backend.create_account_assignment(*key)  # type: ignore[arg-type]
            self._provisioned.setdefault(req.permission_set_arn, set()).add(req.account_id or "")
        elif req.kind == "delete":
            if self._assignment_exists(backend, key):
                backend.delete_account_assignment(*key)  # type: ignore[arg-type]
        elif req.account_id:
            self._provisioned.setdefault(req.permission_set_arn, set()).add(req.account_id)
        if req.kind in ("create", "provision") and req.account_id:
            policy = backend.get_inline_policy_for_permission_set(
                req.instance_arn, req.permission_set_arn
            )
            self.provisioned_policy[(req.permission_set_arn, req.account_id)] = policy
        req.status = "SUCCEEDED"

    @staticmethod
    def _assignment_exists(backend: SSOAdminBackend, key: tuple[Any, ...]) -> bool:
        try:
            backend._find_account(*key)
        except JsonRESTError:
            return False
        return True

    def _assignment_request(self, kind: Kind, p: dict[str, Any], region: str) -> AsyncRequest:
        self._sso(region)._find_permission_set(p["InstanceArn"], p["PermissionSetArn"])
        if p.get("TargetType") != "AWS_ACCOUNT":
            raise ApiError("ValidationException", "TargetType must be AWS_ACCOUNT")
        return AsyncRequest(
            kind=kind,
            request_id=str(uuid.uuid4()),
            instance_arn=p["InstanceArn"],
            region=region,
            permission_set_arn=p["PermissionSetArn"],
            account_id=p["TargetId"],
            principal_type=p["PrincipalType"],
            principal_id=p["PrincipalId"],
        )

    def _create_assignment(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        req = self._start(self._assignment_request("create", p, region))
        return {"AccountAssignmentCreationStatus": req.to_json()}

    def _delete_assignment(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        req = self._assignment_request("delete", p, region)
        key = (req.instance_arn, req.account_id, "AWS_ACCOUNT", req.permission_set_arn)
        self._sso(region)._find_account(*key, req.principal_type, req.principal_id)  # type: ignore[arg-type]
        return {"AccountAssignmentDeletionStatus": self._start(req).to_json()}

    def _describe(self, kind: Kind, request_id: str) -> AsyncRequest:
        req = self._requests.get(request_id)
        if req is None or req.kind != kind:
            raise ApiError("ResourceNotFoundException", f"Request {request_id} does not exist")
        return req

    def _describe_create(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        req = self._describe("create", p["AccountAssignmentCreationRequestId"])
        return {"AccountAssignmentCreationStatus": req.to_json()}

    def _describe_delete(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        req = self._describe("delete", p["AccountAssignmentDeletionRequestId"])
        return {"AccountAssignmentDeletionStatus": req.to_json()}

    def _provision(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        self._sso(region)._find_permission_set(p["InstanceArn"], p["PermissionSetArn"])
        target_type = p.get("TargetType")
        if target_type == "AWS_ACCOUNT" and not p.get("TargetId"):
            raise ApiError("ValidationException", "TargetId is required for AWS_ACCOUNT")
        if target_type not in ("AWS_ACCOUNT", "ALL_PROVISIONED_ACCOUNTS"):
            raise ApiError("ValidationException", f"Unknown TargetType {target_type!r}")
        req = AsyncRequest(
            kind="provision",
            request_id=str(uuid.uuid4()),
            instance_arn=p["InstanceArn"],
            region=region,
            permission_set_arn=p["PermissionSetArn"],
            account_id=p.get("TargetId") if target_type == "AWS_ACCOUNT" else None,
        )
        return {"PermissionSetProvisioningStatus": self._start(req).to_json()}

    def _describe_provision(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        req = self._describe("provision", p["ProvisionPermissionSetRequestId"])
        return {"PermissionSetProvisioningStatus": req.to_json()}

    def _accounts_for_ps(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        self._sso(region)._find_permission_set(p["InstanceArn"], p["PermissionSetArn"])
        return {"AccountIds": sorted(self._provisioned.get(p["PermissionSetArn"], ()))}

    def _ps_for_account(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        account = p["AccountId"]
        arns = sorted(arn for arn, accounts in self._provisioned.items() if account in accounts)
        return {"PermissionSets": arns}

    # -- instance and tags ------------------------------------------------------------------

    def _describe_instance(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        for instance in self._sso(region).instances:
            if instance.instance_arn == p["InstanceArn"]:
                return {k: v for k, v in instance.to_json().items() if v is not None}
        raise ApiError("ResourceNotFoundException", "Instance does not exist")

    def _tagged(self, p: dict[str, Any], region: str) -> list[dict[str, str]] | None:
        """The permission set's tag list (moto keeps it on the object); None for the instance."""
        backend = self._sso(region)
        arn = p["ResourceArn"]
        if any(i.instance_arn == arn for i in backend.instances):
            return None
        for ps in backend.permission_sets:
            if ps.permission_set_arn == arn:
                if ps.tags is None:
                    ps.tags = []
                return ps.tags
        raise ApiError("ResourceNotFoundException", f"Resource {arn} does not exist")

    def _list_tags(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        return {"Tags": list(self._tagged(p, region) or [])}

    def _tag(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        tags = self._tagged(p, region)
        if tags is None:
            raise ApiError("ValidationException", "Tagging the instance is not supported here")
        new = {t["Key"]: t.get("Value", "") for t in p.get("Tags", [])}
        tags[:] = [t for t in tags if t["Key"] not in new]
        tags.extend({"Key": k, "Value": v} for k, v in new.items())
        return {}

    def _untag(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        tags = self._tagged(p, region)
        if tags is not None:
            drop = set(p.get("TagKeys", []))
            tags[:] = [t for t in tags if t["Key"] not in drop]
        return {}

    # -- group memberships ------------------------------------------------------------------

    def _create_membership(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        backend = self._ids(region)
        store, group, member = p["IdentityStoreId"], p["GroupId"], p["MemberId"]
        try:
            backend.get_group_membership_id(store, group, member)
        except JsonRESTError:
            membership_id, store = backend.create_group_membership(store, group, member)
            return {"MembershipId": membership_id, "IdentityStoreId": store}
        raise ApiError("ConflictException", "Member and Group relationship already exists")

    def _delete_membership(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        backend = self._ids(region)
        store, membership_id = p["IdentityStoreId"], p["MembershipId"]
        try:
            backend.describe_group_membership(store, membership_id)
        except JsonRESTError as err:
            raise ApiError("ResourceNotFoundException", "Membership does not exist") from err
        backend.delete_group_membership(store, membership_id)
        return {}

    def _update_group(self, p: dict[str, Any], region: str) -> dict[str, Any]:
        store = self._ids(region).identity_stores.get(p["IdentityStoreId"])
        group = store.groups.get(p["GroupId"]) if store else None
        if store is None or group is None:
            raise ApiError("ResourceNotFoundException", "GROUP not found.")
        fields = {"displayname": "DisplayName", "description": "Description"}
        for op in p.get("Operations", []):
            name = fields.get(str(op.get("AttributePath", "")).lower())
            if name is None:
                raise ApiError("ValidationException", f"Cannot update {op.get('AttributePath')}")
            group = group._replace(**{name: op.get("AttributeValue")})
        store.groups[group.GroupId] = group
        return {}


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the body and put it back, so moto reads it again when the call passes through."""
    stream = environ["wsgi.input"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked upload: read to the end
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _region(environ: dict[str, Any]) -> str | None:
    m = _REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
    return m.group(1) if m else None


def _respond(
    start_response: Callable[..., Any], status: int, payload: dict[str, Any]
) -> list[bytes]:
    data = json.dumps(payload).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("Content-Length", str(len(data))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    if status >= 400:
        headers.append(("x-amzn-ErrorType", str(payload.get("__type", ""))))
    start_response(f"{status} {'OK' if status < 400 else 'Error'}", headers)
    return [data]
