"""Graph v1.0 routes served by the sandbox: PIM for Groups assignment schedule instances and
requests, and minimal users and groups. Shapes follow Microsoft's Graph reference pages
(privilegedaccessgroup-list-assignmentscheduleinstances, -post-assignmentschedulerequests)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from bridge.sandbox.graph_http import ApiRequest, ApiResponse, GraphApiError, Router
from bridge.sandbox.graph_tenant import DirectoryObject, Instance, ScheduleRequest, Tenant

PIM = "/identityGovernance/privilegedAccess/group"
INSTANCES = PIM + "/assignmentScheduleInstances"
REQUESTS = PIM + "/assignmentScheduleRequests"

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
