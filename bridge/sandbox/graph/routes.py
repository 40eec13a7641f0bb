"""Graph v1.0 routes served by the sandbox: PIM for Groups assignment schedule instances and
requests, and minimal users and groups. Shapes follow Microsoft's Graph reference pages
(privilegedaccessgroup-list-assignmentscheduleinstances, -post-assignmentschedulerequests)."""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from bridge.sandbox.graph.http import ApiRequest, ApiResponse, GraphApiError, Router
from bridge.sandbox.graph.tenant import DirectoryObject, Instance, ScheduleRequest, Tenant

PIM = "/identityGovernance/privilegedAccess/group"
INSTANCES = PIM + "/assignmentScheduleInstances"
REQUESTS = PIM + "/assignmentScheduleRequests"
PROVISIONING_LOGS = "/auditLogs/provisioning"
# Graph's documented limit for provisioning logs: 5 requests per 10 seconds per tenant.
PROVISIONING_RATE = (5, 10.0)

_ODATA_TYPES = {
    "user": "#microsoft.graph.user",
    "group": "#microsoft.graph.group",
    "servicePrincipal": "#microsoft.graph.servicePrincipal",
}


class SandboxSettings(Protocol):
    """What the routes read from the sandbox at call time (all of it may change in a test)."""

    tenant: Tenant

    @property
    def url(self) -> str: ...

    page_size: int
    enum_case: str
    malformed_groups: set[str]


def install(router: Router, sandbox: SandboxSettings) -> None:
    routes = _Routes(sandbox)
    router.add("GET", re.escape(INSTANCES), routes.list_instances)
    router.add("GET", re.escape(REQUESTS), routes.list_requests)
    router.add("POST", re.escape(REQUESTS), routes.create_request)
    router.add("GET", r"/users/(?P<id>[^/]+)", routes.get_user)
    router.add("GET", r"/groups/(?P<id>[^/]+)", routes.get_group)
    health = _HealthRoutes(sandbox)
    router.add("GET", r"/applications\(appId='(?P<app_id>[^']*)'\)", health.get_application)
    router.add("GET", r"/applications", health.list_applications)
    router.add("GET", r"/servicePrincipals/(?P<id>[^/]+)", health.get_service_principal)
    router.add("GET", r"/servicePrincipals/(?P<id>[^/]+)/synchronization/jobs", health.list_jobs)
    router.add("GET", re.escape(PROVISIONING_LOGS), health.list_provisioning)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


_CLAUSE = re.compile(r"^\s*(\w+)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)


def parse_filter(expr: str | None) -> dict[str, str]:
    """The `eq`/`and` subset of OData $filter that PIM for Groups lists need, keyed by the
    lower-cased property name. PIM refuses a list not scoped to a group or principal."""
    clauses: dict[str, str] = {}
    for part in re.split(r"\s+and\s+", (expr or "").strip(), flags=re.IGNORECASE):
        if not part.strip():
            continue
        m = _CLAUSE.match(part)
        if not m:
            raise GraphApiError(400, "BadRequest", f"Invalid filter clause: '{part.strip()}'.")
        clauses[m.group(1).lower()] = m.group(2)
    if "groupid" not in clauses and "principalid" not in clauses:
        raise GraphApiError(
            400,
            "BadRequest",
            "The $filter query parameter is required and must scope the request to a groupId "
            "or a principalId (eq).",
        )
    return clauses


class _Routes:
    def __init__(self, sandbox: SandboxSettings) -> None:
        self.sb = sandbox

    # -- PIM lists -----------------------------------------------------------------------------

    def list_instances(self, req: ApiRequest, _: re.Match[str]) -> ApiResponse:
        clauses = parse_filter(req.query.get("$filter"))
        expand = _expand(req)
        items = [
            self._instance_json(i, expand)
            for i in self.sb.tenant.live_instances(
                clauses.get("groupid"), clauses.get("principalid")
            )
        ]
        group = clauses.get("groupid")
        if group in self.sb.malformed_groups:
            # An item as a broken upstream might send it: no principal, no type.
            items.insert(
                0, {"id": f"{group}_member_malformed", "groupId": group, "accessId": "member"}
            )
        return self._page(req, INSTANCES, _where(items, clauses), "assignmentScheduleInstances")

    def list_requests(self, req: ApiRequest, _: re.Match[str]) -> ApiResponse:
        clauses = parse_filter(req.query.get("$filter"))
        expand = _expand(req)
        items = [
            self._request_json(r, expand)
            for r in self.sb.tenant.schedule_requests(
                clauses.get("groupid"), clauses.get("principalid")
            )
        ]
        return self._page(req, REQUESTS, _where(items, clauses), "assignmentScheduleRequests")

    def create_request(self, req: ApiRequest, _: re.Match[str]) -> ApiResponse:
        created = self.sb.tenant.submit(req.body, req.caller)
        body = {
            "@odata.context": f"{self.sb.url}/$metadata#identityGovernance/privilegedAccess/group/"
            "assignmentScheduleRequests/$entity",
            **self._request_json(created, set()),
        }
        return ApiResponse(201, body, {"Content-Type": "application/json"})

    # -- directory -----------------------------------------------------------------------------

    def get_user(self, req: ApiRequest, m: re.Match[str]) -> ApiResponse:
        return self._get_object(m.group("id"), "user", "users")

    def get_group(self, req: ApiRequest, m: re.Match[str]) -> ApiResponse:
        return self._get_object(m.group("id"), "group", "groups")

    def _get_object(self, object_id: str, kind: str, plural: str) -> ApiResponse:
        obj = self.sb.tenant.objects.get(object_id)
        if obj is None or obj.kind != kind:
            raise GraphApiError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{object_id}' does not exist or one of its queried reference-property "
                "objects are not present.",
            )
        body = {"@odata.context": f"{self.sb.url}/$metadata#{plural}/$entity", **_object_json(obj)}
        body.pop("@odata.type")
        if kind == "group":
            body.update(securityEnabled=True, mailEnabled=False, groupTypes=[])
        return ApiResponse(200, body, {"Content-Type": "application/json"})

    # -- shapes --------------------------------------------------------------------------------

    def _enum(self, value: str) -> str:
        # Microsoft's examples write 'Assigned'/'Direct'; the schema says 'assigned'/'direct'.
        return value[:1].upper() + value[1:] if self.sb.enum_case == "capitalised" else value

    def _instance_json(self, i: Instance, expand: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": i.id,
            "principalId": i.principal_id,
            "startDateTime": iso(i.start),
            "endDateTime": iso(i.end),
            "assignmentType": self._enum(i.assignment_type),
            "accessId": i.access_id,
            "groupId": i.group_id,
            "memberType": self._enum(i.member_type),
            "assignmentScheduleId": i.schedule_id,
        }
        if "principal" in expand:
            out["principal"] = self._principal(i.principal_id)
        if "group" in expand:
            out["group"] = self._principal(i.group_id)
        return out

    def _request_json(self, r: ScheduleRequest, expand: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": r.id,
            "status": r.status,
            "completedDateTime": iso(r.created),
            "createdDateTime": iso(r.created),
            "approvalId": None,
            "customData": r.custom_data,
            "createdBy": {"user": {"id": r.created_by}} if r.created_by else {"user": None},
            "action": r.action,
            "isValidationOnly": False,
            "justification": r.justification,
            "scheduleInfo": r.schedule_info or None,
            "ticketInfo": {"ticketNumber": r.ticket_number, "ticketSystem": r.ticket_system},
            "accessId": r.access_id,
            "principalId": r.principal_id,
            "groupId": r.group_id,
            "targetScheduleId": r.target_schedule_id,
        }
        if "principal" in expand:
            out["principal"] = self._principal(r.principal_id)
        return out

    def _principal(self, object_id: str) -> dict[str, Any] | None:
        obj = self.sb.tenant.objects.get(object_id)
        return None if obj is None else _object_json(obj)

    def _page(
        self, req: ApiRequest, path: str, items: list[dict[str, Any]], entity: str
    ) -> ApiResponse:
        size = self.sb.page_size
        if req.query.get("$top", "").isdigit():
            size = min(size, max(1, int(req.query["$top"])))
        offset = _decode_skiptoken(req.query.get("$skiptoken"))
        body: dict[str, Any] = {
            "@odata.context": f"{self.sb.url}/$metadata#identityGovernance/privilegedAccess/group/"
            + entity,
        }
        end = offset + size
        if end < len(items):
            query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = _encode_skiptoken(end)
            body["@odata.nextLink"] = f"{self.sb.url}{path}?" + _query_string(query)
        body["value"] = items[offset:end]
        return ApiResponse(200, body, {"Content-Type": "application/json"})


def _object_json(obj: DirectoryObject) -> dict[str, Any]:
    out: dict[str, Any] = {
        "@odata.type": _ODATA_TYPES[obj.kind],
        "id": obj.id,
        "displayName": obj.display_name,
        "mail": obj.mail,
    }
    if obj.kind == "user":
        out["userPrincipalName"] = obj.user_principal_name
    return out


def _expand(req: ApiRequest) -> set[str]:
    return {p.strip().lower() for p in req.query.get("$expand", "").split(",") if p.strip()}


def _where(items: list[dict[str, Any]], clauses: dict[str, str]) -> list[dict[str, Any]]:
    """Apply the filter's other equality clauses (accessId, action, ...) to the serialised items."""

    def value(item: dict[str, Any], key: str) -> Any:
        return next((v for k, v in item.items() if k.lower() == key), None)

    extra = {k: v for k, v in clauses.items() if k not in ("groupid", "principalid")}
    matches: Callable[[dict[str, Any]], bool] = lambda item: all(  # noqa: E731
        str(value(item, k)).lower() == v.lower() for k, v in extra.items()
    )
    return [i for i in items if matches(i)] if extra else items


def _encode_skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_skiptoken(token: str | None) -> int:
    if not token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return max(0, int(raw.removeprefix("offset:")))
    except ValueError:
        raise GraphApiError(400, "BadRequest", "The $skiptoken is not valid.") from None


def _query_string(query: dict[str, str]) -> str:
    return "&".join(f"{k}={quote(v, safe=',')}" for k, v in query.items())


_DENIED = {
    "provisioning": "AuditLog.Read.All",
    "synchronization": "Synchronization.Read.All",
    "applications": "Application.Read.All",
}
_LOG_CLAUSE = re.compile(r"^\s*([\w/]+)\s+(eq|ge|gt)\s+(?:'([^']*)'|(\S+))\s*$", re.IGNORECASE)


class _HealthRoutes:
    """Applications, service principals, synchronization jobs and provisioning logs, in the
    shapes of graph-samples (application-addpassword, synchronization-list-jobs,
    provisioningobjectsummary-list); the provisioning emulator writes what they serve."""

    def __init__(self, sandbox: SandboxSettings) -> None:
        self.sb = sandbox
        self._log_calls: list[float] = []
        self._lock = threading.Lock()

    def _check(self, area: str) -> None:
        if area in self.sb.tenant.denied:
            raise GraphApiError(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )

    def _ok(self, body: dict[str, Any]) -> ApiResponse:
        return ApiResponse(200, body, {"Content-Type": "application/json"})

    def get_application(self, req: ApiRequest, m: re.Match[str]) -> ApiResponse:
        self._check("applications")
        found = self._apps_with(m.group("app_id"))
        if not found:
            raise GraphApiError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{m.group('app_id')}' does not exist or one of its queried "
                "reference-property objects are not present.",
            )
        return self._ok(
            {"@odata.context": f"{self.sb.url}/$metadata#applications/$entity", **found[0]}
        )

    def list_applications(self, req: ApiRequest, _: re.Match[str]) -> ApiResponse:
        self._check("applications")
        m = re.match(r"^\s*appId\s+eq\s+'([^']*)'\s*$", req.query.get("$filter", ""), re.I)
        with self.sb.tenant.lock:
            apps = self._apps_with(m.group(1)) if m else list(self.sb.tenant.applications.values())
        return self._ok({"@odata.context": f"{self.sb.url}/$metadata#applications", "value": apps})

    def _apps_with(self, app_id: str) -> list[dict[str, Any]]:
        with self.sb.tenant.lock:
            return [dict(a) for a in self.sb.tenant.applications.values() if a["appId"] == app_id]

    def get_service_principal(self, req: ApiRequest, m: re.Match[str]) -> ApiResponse:
        self._check("applications")
        with self.sb.tenant.lock:
            sp = self.sb.tenant.service_principals.get(m.group("id"))
        if sp is None:
            raise GraphApiError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{m.group('id')}' does not exist or one of its queried "
                "reference-property objects are not present.",
            )
        return self._ok(
            {"@odata.context": f"{self.sb.url}/$metadata#servicePrincipals/$entity", **sp}
        )

    def list_jobs(self, req: ApiRequest, m: re.Match[str]) -> ApiResponse:
        self._check("synchronization")
        with self.sb.tenant.lock:
            if m.group("id") not in self.sb.tenant.service_principals:
                raise GraphApiError(
                    404, "Request_ResourceNotFound", f"Resource '{m.group('id')}' does not exist."
                )
            jobs = [dict(j) for j in self.sb.tenant.sync_jobs.get(m.group("id"), [])]
        return self._ok(
            {
                "@odata.context": f"{self.sb.url}/$metadata#servicePrincipals('{m.group('id')}')"
                "/synchronization/jobs",
                "value": jobs,
            }
        )

    def list_provisioning(self, req: ApiRequest, _: re.Match[str]) -> ApiResponse:
        self._check("provisioning")
        limit, window = PROVISIONING_RATE
        now = time.monotonic()
        with self._lock:
            self._log_calls = [t for t in self._log_calls if now - t < window]
            if len(self._log_calls) >= limit:
                wait = window - (now - self._log_calls[0])
                return ApiResponse(
                    429,
                    {"error": {"code": "TooManyRequests", "message": "Too many requests."}},
                    {"Content-Type": "application/json", "Retry-After": str(max(1, round(wait)))},
                )
            self._log_calls.append(now)
        with self.sb.tenant.lock:
            items = [dict(e) for e in self.sb.tenant.provisioning_logs]
        for clause in re.split(r"\s+and\s+", req.query.get("$filter", "").strip(), flags=re.I):
            if clause.strip():
                items = _log_filter(items, clause)
        response = self._page_of(req, items)
        return response

    def _page_of(self, req: ApiRequest, items: list[dict[str, Any]]) -> ApiResponse:
        size = self.sb.page_size
        if req.query.get("$top", "").isdigit():
            size = min(size, max(1, int(req.query["$top"])))
        offset = _decode_skiptoken(req.query.get("$skiptoken"))
        body: dict[str, Any] = {"@odata.context": f"{self.sb.url}/$metadata#auditLogs/provisioning"}
        end = offset + size
        if end < len(items):
            query = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = _encode_skiptoken(end)
            body["@odata.nextLink"] = f"{self.sb.url}{PROVISIONING_LOGS}?" + _query_string(query)
        body["value"] = items[offset:end]
        return self._ok(body)


def _log_filter(items: list[dict[str, Any]], clause: str) -> list[dict[str, Any]]:
    """The filter subset the bridge sends: `servicePrincipal/id eq '…'` and
    `activityDateTime ge|gt <instant>`. Graph's filters here are case sensitive."""
    m = _LOG_CLAUSE.match(clause)
    if not m:
        raise GraphApiError(400, "BadRequest", f"Invalid filter clause: '{clause.strip()}'.")
    prop, op, quoted, bare = m.group(1), m.group(2).lower(), m.group(3), m.group(4)
    value = quoted if quoted is not None else bare

    def get(item: dict[str, Any]) -> Any:
        for part in prop.split("/"):
            item = item.get(part) if isinstance(item, dict) else None  # type: ignore[assignment]
        return item

    if prop == "activityDateTime":
        bound = datetime.fromisoformat(value.replace("Z", "+00:00"))

        def after(item: dict[str, Any]) -> bool:
            at = datetime.fromisoformat(str(get(item)).replace("Z", "+00:00"))
            return at >= bound if op == "ge" else at > bound

        return [i for i in items if after(i)]
    if op != "eq":
        raise GraphApiError(400, "BadRequest", f"Operator '{op}' is not supported on {prop}.")
    return [i for i in items if get(i) == value]
