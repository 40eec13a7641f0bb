"""The Graph routes `pim-bridge health` reads: applications, service principals,
synchronization jobs and provisioning logs, in the shapes of graph-samples
(application-addpassword, synchronization-list-jobs, provisioningobjectsummary-list). The
provisioning emulator writes what they serve; `Tenant.denied` makes an area answer 403."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime
from typing import Any

from bridge.sandbox.graph.http import (
    ApiRequest,
    ApiResponse,
    GraphApiError,
    Router,
    resource_not_found,
)
from bridge.sandbox.graph.odata import JSON, ok, page
from bridge.sandbox.graph.routes import SandboxSettings

PROVISIONING_LOGS = "/auditLogs/provisioning"
# Graph's documented limit for provisioning logs: 5 requests per 10 seconds per tenant.
PROVISIONING_RATE = (5, 10.0)
_APP_ID_FILTER = re.compile(r"^\s*appId\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)
_LOG_CLAUSE = re.compile(r"^\s*([\w/]+)\s+(eq|ge|gt)\s+(?:'([^']*)'|(\S+))\s*$", re.IGNORECASE)


def install(router: Router, sandbox: SandboxSettings) -> None:
    health = _HealthRoutes(sandbox)
    router.add("GET", r"/applications\(appId='(?P<app_id>[^']*)'\)", health.get_application)
    router.add("GET", r"/applications", health.list_applications)
    router.add("GET", r"/servicePrincipals/(?P<id>[^/]+)", health.get_service_principal)
    router.add("GET", r"/servicePrincipals/(?P<id>[^/]+)/synchronization/jobs", health.list_jobs)
    router.add("GET", re.escape(PROVISIONING_LOGS), health.list_provisioning)


class _HealthRoutes:
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

    def get_application(self, req: ApiRequest, m: re.Match[str]) -> ApiResponse:
        self._check("applications")
        found = self._apps_with(m.group("app_id"))
        if not found:
            raise resource_not_found(m.group("app_id"))
        return ok({"@odata.context": f"{self.sb.url}/$metadata#applications/$entity", **found[0]})

    def list_applications(self, req: ApiRequest, _: re.Match[str]) -> ApiResponse:
        self._check("applications")
        m = _APP_ID_FILTER.match(req.query.get("$filter", ""))
        with self.sb.tenant.lock:
            apps = self._apps_with(m.group(1)) if m else list(self.sb.tenant.applications.values())
        return ok({"@odata.context": f"{self.sb.url}/$metadata#applications", "value": apps})

    def _apps_with(self, app_id: str) -> list[dict[str, Any]]:
        with self.sb.tenant.lock:
            return [dict(a) for a in self.sb.tenant.applications.values() if a["appId"] == app_id]

    def get_service_principal(self, req: ApiRequest, m: re.Match[str]) -> ApiResponse:
        self._check("applications")
        with self.sb.tenant.lock:
            sp = self.sb.tenant.service_principals.get(m.group("id"))
        if sp is None:
            raise resource_not_found(m.group("id"))
        return ok({"@odata.context": f"{self.sb.url}/$metadata#servicePrincipals/$entity", **sp})

    def list_jobs(self, req: ApiRequest, m: re.Match[str]) -> ApiResponse:
        self._check("synchronization")
        with self.sb.tenant.lock:
            if m.group("id") not in self.sb.tenant.service_principals:
                raise GraphApiError(
                    404, "Request_ResourceNotFound", f"Resource '{m.group('id')}' does not exist."
                )
            jobs = [dict(j) for j in self.sb.tenant.sync_jobs.get(m.group("id"), [])]
        return ok(
            {
                "@odata.context": f"{self.sb.url}/$metadata#servicePrincipals('{m.group('id')}')"
                "/synchronization/jobs",
                "value": jobs,
            }
        )

    def list_provisioning(self, req: ApiRequest, _: re.Match[str]) -> ApiResponse:
        self._check("provisioning")
        throttled = self._throttled()
        if throttled is not None:
            return throttled
        with self.sb.tenant.lock:
            items = [dict(e) for e in self.sb.tenant.provisioning_logs]
        for clause in re.split(r"\s+and\s+", req.query.get("$filter", "").strip(), flags=re.I):
            if clause.strip():
                items = _log_filter(items, clause)
        return page(
            req,
            items,
            size=self.sb.page_size,
            context=f"{self.sb.url}/$metadata#auditLogs/provisioning",
            next_url=f"{self.sb.url}{PROVISIONING_LOGS}",
        )

    def _throttled(self) -> ApiResponse | None:
        """429 with Retry-After over PROVISIONING_RATE, as Graph answers; else counts the call."""
        limit, window = PROVISIONING_RATE
        now = time.monotonic()
        with self._lock:
            self._log_calls = [t for t in self._log_calls if now - t < window]
            if len(self._log_calls) >= limit:
                wait = window - (now - self._log_calls[0])
                return ApiResponse(
                    429,
                    {"error": {"code": "TooManyRequests", "message": "Too many requests."}},
                    {**JSON, "Retry-After": str(max(1, round(wait)))},
                )
            self._log_calls.append(now)
        return None


def _log_filter(items: list[dict[str, Any]], clause: str) -> list[dict[str, Any]]:
    """The filter subset the bridge sends: `servicePrincipal/id eq '…'` and
    `activityDateTime ge|gt <instant>`. Graph's filters here are case sensitive."""
    m = _LOG_CLAUSE.match(clause)
    if not m:
        raise GraphApiError(400, "BadRequest", f"Invalid filter clause: '{clause.strip()}'.")
    prop, op, quoted, bare = m.group(1), m.group(2).lower(), m.group(3), m.group(4)
    value = quoted if quoted is not None else bare

    def get(item: dict[str, Any]) -> Any:
        node: Any = item
        for part in prop.split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    if prop == "activityDateTime":
        bound = datetime.fromisoformat(value.replace("Z", "+00:00"))

        def after(item: dict[str, Any]) -> bool:
            at = datetime.fromisoformat(str(get(item)).replace("Z", "+00:00"))
            return at >= bound if op == "ge" else at > bound

        return [i for i in items if after(i)]
    if op != "eq":
        raise GraphApiError(400, "BadRequest", f"Operator '{op}' is not supported on {prop}.")
    return [i for i in items if get(i) == value]
