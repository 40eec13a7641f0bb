"""Graph reads for `check-config` alone: a mapped group by its id, and the longest activation
its PIM policy allows. Neither is needed to mirror or revoke, so a 403 makes the check skipped
with the missing permission named, never a failure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from azure.core.credentials_async import AsyncTokenCredential

from bridge.config import EntraConfig
from bridge.errors import Unreadable
from bridge.graph.client import GraphSession, Reply, RetryPolicy, get_retried, odata_literal
from bridge.iso8601 import parse_iso_duration

GROUP_PERMISSION = "GroupMember.Read.All"
POLICY_PERMISSION = "RoleManagementPolicy.Read.AzureADGroup"
# The PIM policy rule that caps how long an eligible member's activation may last.
ACTIVATION_RULE = "Expiration_EndUser_Assignment"


@dataclass(frozen=True)
class EntraGroup:
    id: str
    name: str


class GraphConfigReader:
    def __init__(
        self,
        entra: EntraConfig,
        *,
        credential: AsyncTokenCredential | None = None,
        max_retries: int = 2,
    ) -> None:
        self.retry = RetryPolicy(max_retries=max_retries, max_delay=10.0)
        self._session = GraphSession(entra, credential, name="graph-check")

    def group(self, group_id: str) -> EntraGroup | Unreadable | None:
        """The group, or None when Graph says there is none."""
        reply = self._get(f"/groups/{quote(group_id)}?$select=id,displayName")
        if reply.status == 404:
            return None
        if not reply.ok or not isinstance(reply.body, dict):
            return _unreadable(reply, GROUP_PERMISSION)
        return EntraGroup(group_id, str(reply.body.get("displayName") or group_id))

    def max_activation(self, group_id: str, access: str) -> timedelta | Unreadable | None:
        """How long one activation of `access` on the group may last; None when the policy
        sets no limit."""
        expr = (
            f"scopeId eq '{odata_literal(group_id)}' and scopeType eq 'Group' "
            f"and roleDefinitionId eq '{odata_literal(access)}'"
        )
        reply = self._get(
            "/policies/roleManagementPolicyAssignments?$filter="
            + quote(expr, safe="'")
            + "&$expand="
            + quote("policy($expand=rules)", safe="()$=")
        )
        if not reply.ok:
            return _unreadable(reply, POLICY_PERMISSION)
        return _activation_limit(reply.body)

    def close(self) -> None:
        self._session.close()

    def _get(self, url: str) -> Reply:
        return get_retried(self._session, self.retry, url)


def _activation_limit(body: Any) -> timedelta | Unreadable | None:
    values = body.get("value") if isinstance(body, dict) else None
    for assignment in values if isinstance(values, list) else []:
        policy = assignment.get("policy") if isinstance(assignment, dict) else None
        rules = policy.get("rules") if isinstance(policy, dict) else None
        for rule in rules if isinstance(rules, list) else []:
            if not isinstance(rule, dict) or rule.get("id") != ACTIVATION_RULE:
                continue
            if rule.get("isExpirationRequired") is False:
                return None
            try:
                return parse_iso_duration(str(rule.get("maximumDuration")))
            except ValueError:
                return Unreadable(f"{ACTIVATION_RULE}: {rule.get('maximumDuration')!r}")
    return Unreadable(f"no policy rule {ACTIVATION_RULE} for the group")


def _unreadable(reply: Reply, permission: str) -> Unreadable:
    return Unreadable(reply.error_text(), permission if reply.status == 403 else None)
