"""Graph v1.0 routes served by the sandbox: PIM for Groups assignment schedule instances and
requests, and minimal users and groups. Shapes follow Microsoft's Graph reference pages
(privilegedaccessgroup-list-assignmentscheduleinstances, -post-assignmentschedulerequests).
What `pim-bridge health` reads is served by `health_routes`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from bridge.sandbox.graph.http import (
    ApiRequest,
    ApiResponse,
    GraphApiError,
    Router,
    resource_not_found,
)
from bridge.sandbox.graph.odata import JSON, iso, ok, page
from bridge.sandbox.graph.tenant import DirectoryObject, Instance, ScheduleRequest, Tenant

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


_CLAUSE = re.compile(r"^\s*(\w+)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)


def filter_clauses(expr: str | None) -> dict[str, str]:
    """The `eq`/`and` subset of OData $filter the sandbox's lists take, keyed by the
    lower-cased property name."""
    clauses: dict[str, str] = {}
    for part in re.split(r"\s+and\s+", (expr or "").strip(), flags=re.IGNORECASE):
        if not part.strip():
            continue
        m = _CLAUSE.match(part)
        if not m:
            raise GraphApiError(400, "BadRequest", f"Invalid filter clause: '{part.strip()}'.")
        clauses[m.group(1).lower()] = m.group(2)
    return clauses


def parse_filter(expr: str | None) -> dict[str, str]:
    """`filter_clauses` for the PIM for Groups lists, which PIM refuses unless scoped to a
    group or a principal."""
    clauses = filter_clauses(expr)
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
        if req.caller is None and "assignment_requests" in self.sb.tenant.denied:
            # The application without PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup.
            raise GraphApiError(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        created = self.sb.tenant.submit(req.body, req.caller)
        body = {
            "@odata.context": f"{self.sb.url}/$metadata#identityGovernance/privilegedAccess/group/"
            "assignmentScheduleRequests/$entity",
            **self._request_json(created, set()),
        }
        return ApiResponse(201, body, dict(JSON))

    # -- directory -----------------------------------------------------------------------------

    def get_user(self, req: ApiRequest, m: re.Match[str]) -> ApiResponse:
        return self._get_object(m.group("id"), "user", "users")

    def get_group(self, req: ApiRequest, m: re.Match[str]) -> ApiResponse:
        return self._get_object(m.group("id"), "group", "groups")

    def _get_object(self, object_id: str, kind: str, plural: str) -> ApiResponse:
        obj = self.sb.tenant.objects.get(object_id)
        if obj is None or obj.kind != kind:
            raise resource_not_found(object_id)
        body = {"@odata.context": f"{self.sb.url}/$metadata#{plural}/$entity", **_object_json(obj)}
        body.pop("@odata.type")
        if kind == "group":
            body.update(securityEnabled=True, mailEnabled=False, groupTypes=[])
        return ok(body)

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
        return page(
            req,
            items,
            size=self.sb.page_size,
            context=f"{self.sb.url}/$metadata#identityGovernance/privilegedAccess/group/{entity}",
            next_url=f"{self.sb.url}{path}",
        )


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
