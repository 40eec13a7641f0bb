"""PIM for Groups policies as Graph serves them: `GET /policies/roleManagementPolicyAssignments`
with `$filter=scopeId eq '…' and scopeType eq 'Group'` (and optionally `roleDefinitionId eq
'member'`), `$expand=policy($expand=rules)`. Shapes follow Microsoft's reference page
(policyroot-list-rolemanagementpolicyassignments, the PIM for Groups example); of the rules only
the one `check-config` reads is served, `Expiration_EndUser_Assignment`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Protocol

from bridge.sandbox.graph.http import ApiRequest, ApiResponse, GraphApiError, Router
from bridge.sandbox.graph.odata import ok
from bridge.sandbox.graph.routes import filter_clauses
from bridge.sandbox.graph.tenant import Tenant

POLICY_ASSIGNMENTS = "/policies/roleManagementPolicyAssignments"
# What PIM sets on a group it starts managing: activations of at most 8 hours.
DEFAULT_MAX_ACTIVATION = timedelta(hours=8)


class PolicySettings(Protocol):
    tenant: Tenant

    @property
    def url(self) -> str: ...

    def max_activation(self, group_id: str, access_id: str) -> timedelta: ...


def install(router: Router, sandbox: PolicySettings) -> None:
    router.add("GET", re.escape(POLICY_ASSIGNMENTS), lambda req, _: _list_assignments(sandbox, req))


def _list_assignments(sb: PolicySettings, req: ApiRequest) -> ApiResponse:
    clauses = filter_clauses(req.query.get("$filter"))
    if clauses.get("scopetype", "").lower() != "group" or not clauses.get("scopeid"):
        raise GraphApiError(
            400, "BadRequest", "The filter must name a scopeId and scopeType eq 'Group'."
        )
    group_id = clauses["scopeid"]
    group = sb.tenant.objects.get(group_id)
    accesses = [clauses["roledefinitionid"]] if "roledefinitionid" in clauses else []
    items = [
        _assignment(group_id, access, sb.max_activation(group_id, access), _expands_rules(req))
        for access in accesses or ["member", "owner"]
        if group is not None and group.kind == "group"
    ]
    context = f"{sb.url}/$metadata#policies/roleManagementPolicyAssignments"
    return ok({"@odata.context": context, "value": items})


def _expands_rules(req: ApiRequest) -> bool:
    return "rules" in req.query.get("$expand", "").lower()


def _assignment(group_id: str, access: str, limit: timedelta, rules: bool) -> dict[str, Any]:
    policy_id = f"Group_{group_id}_{access}"
    policy: dict[str, Any] = {
        "id": policy_id,
        "displayName": "Group",
        "isOrganizationDefault": False,
    }
    if rules:
        policy["rules"] = [
            {
                "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
                "id": "Expiration_EndUser_Assignment",
                "isExpirationRequired": True,
                "maximumDuration": _iso(limit),
                "target": {"caller": "EndUser", "level": "Assignment", "operations": ["All"]},
            }
        ]
    return {
        "id": f"{policy_id}_{access}",
        "policyId": policy_id,
        "scopeId": group_id,
        "scopeType": "Group",
        "roleDefinitionId": access,
        "policy": policy,
    }


def _iso(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = f"{hours}H" * bool(hours) + f"{minutes}M" * bool(minutes) + f"{secs}S" * bool(secs)
    return "PT" + (parts or "0S")
