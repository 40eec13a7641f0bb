"""Ending PIM for Groups access through Graph: one `adminRemove` assignmentScheduleRequest per
group, principal and access (POST /identityGovernance/privilegedAccess/group/
assignmentScheduleRequests), for an incident's `revoke --in-entra`.

The only write the bridge makes to Entra, and optional: it needs the application permission
PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup (docs/permissions.md), and without it Graph
answers 403, reported as such and never retried.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.config import EntraConfig
from bridge.errors import SourceError
from bridge.graph.client import GraphSession, Reply

REQUESTS = "/identityGovernance/privilegedAccess/group/assignmentScheduleRequests"
WRITE_PERMISSION = "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup"


@dataclass(frozen=True)
class PimAccess:
    """Active PIM access of one principal to one group, as `adminRemove` names it."""

    group_id: str
    principal_id: str
    access_id: str  # 'member' | 'owner'


class PimRemovals:
    def __init__(self, entra: EntraConfig, session: GraphSession | None = None) -> None:
        self._owns_session = session is None
        self._session = session or GraphSession(entra, name="graph-pim-write")

    def end(self, access: PimAccess, justification: str) -> str:
        """End the access now; returns the request's id. Access already ended is the goal
        reached. Raises SourceError naming the permission on a 403, Graph's answer else."""
        body = {
            "accessId": access.access_id,
            "principalId": access.principal_id,
            "groupId": access.group_id,
            "action": "adminRemove",
            "justification": justification,
        }
        reply = self._session.run(self._session.post(REQUESTS, body))
        if reply.ok and isinstance(reply.body, dict):
            return str(reply.body.get("id", ""))
        if _already_ended(reply):
            return ""
        if reply.status == 403:
            raise SourceError(
                f"Graph refused adminRemove ({reply.error_text()}): the app needs the "
                f"application permission {WRITE_PERMISSION}",
                temporary=False,
            )
        raise SourceError(f"Graph refused adminRemove: {reply.error_text()}", temporary=False)

    def close(self) -> None:
        if self._owns_session:
            self._session.close()


def _already_ended(reply: Reply) -> bool:
    error = reply.body.get("error") if isinstance(reply.body, dict) else None
    return isinstance(error, dict) and error.get("code") == "RoleAssignmentDoesNotExist"
