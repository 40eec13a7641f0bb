"""Changes PIM state in the Graph sandbox the way a user or the portal does: through HTTP, with
the documented assignmentScheduleRequest bodies, so the demo and tests exercise the wire."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx

REQUESTS = "/identityGovernance/privilegedAccess/group/assignmentScheduleRequests"
INSTANCES = "/identityGovernance/privilegedAccess/group/assignmentScheduleInstances"


class GraphActorError(RuntimeError):
    """The sandbox refused a request; `code` is Graph's error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


def iso_duration(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    if seconds <= 0:
        raise ValueError("duration must be positive")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return (
        "PT"
        + (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{secs}S" if secs else "")
    )


class GraphActor:
    def __init__(self, base_url: str, token: str, max_retries: int = 5) -> None:
        # verify=False: the sandbox is plain HTTP on loopback, and skipping the CA bundle
        # makes a client cheap enough to create per scenario step.
        self._client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
            verify=False,
        )
        self._max_retries = max_retries

    def close(self) -> None:
        self._client.close()

    # -- self service --------------------------------------------------------------------------

    def activate(
        self,
        principal_id: str,
        group_id: str,
        duration: timedelta,
        justification: str,
        ticket: str | None = None,
        access_id: str = "member",
    ) -> str:
        """selfActivate; returns the id of the instance it created."""
        body = self._body("selfActivate", principal_id, group_id, access_id, justification, ticket)
        body["scheduleInfo"] = _schedule(duration)
        return self._instance_for(self._post(body), principal_id, group_id)

    def deactivate(
        self,
        principal_id: str,
        group_id: str,
        justification: str = "Done early",
        access_id: str = "member",
    ) -> str:
        """selfDeactivate; returns the request id."""
        body = self._body("selfDeactivate", principal_id, group_id, access_id, justification, None)
        return str(self._post(body)["id"])

    def extend(
        self,
        principal_id: str,
        group_id: str,
        duration: timedelta,
        justification: str,
        ticket: str | None = None,
        access_id: str = "member",
        admin: bool = False,
    ) -> str:
        """selfExtend (adminExtend with `admin`): moves the end by `duration`; returns the
        instance id, which stays the same."""
        action = "adminExtend" if admin else "selfExtend"
        body = self._body(action, principal_id, group_id, access_id, justification, ticket)
        body["scheduleInfo"] = {
            "expiration": {"type": "afterDuration", "duration": iso_duration(duration)}
        }
        return self._instance_for(self._post(body), principal_id, group_id)

    # -- administration ------------------------------------------------------------------------

    def admin_assign(
        self,
        principal_id: str,
        group_id: str,
        duration: timedelta | None = None,
        justification: str = "Assigned by an administrator",
        permanent: bool = False,
        ticket: str | None = None,
        access_id: str = "member",
    ) -> str:
        """adminAssign of active access; returns the instance id."""
        if not permanent and duration is None:
            raise ValueError("give a duration or permanent=True")
        body = self._body("adminAssign", principal_id, group_id, access_id, justification, ticket)
        if permanent:
            body["scheduleInfo"] = {"expiration": {"type": "noExpiration"}}
        else:
            assert duration is not None
            body["scheduleInfo"] = _schedule(duration)
        return self._instance_for(self._post(body), principal_id, group_id)

    def admin_remove(
        self,
        principal_id: str,
        group_id: str,
        justification: str = "Removed by an administrator",
        access_id: str = "member",
    ) -> str:
        body = self._body("adminRemove", principal_id, group_id, access_id, justification, None)
        return str(self._post(body)["id"])

    # -- wire ----------------------------------------------------------------------------------

    @staticmethod
    def _body(
        action: str,
        principal_id: str,
        group_id: str,
        access_id: str,
        justification: str,
        ticket: str | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "accessId": access_id,
            "principalId": principal_id,
            "groupId": group_id,
            "action": action,
            "justification": justification,
        }
        if ticket:
            body["ticketInfo"] = {"ticketNumber": ticket, "ticketSystem": "sandbox"}
        return body

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", REQUESTS, json=body)

    def _instance_for(self, request: dict[str, Any], principal_id: str, group_id: str) -> str:
        schedule_id = request.get("targetScheduleId")
        query = {"$filter": f"groupId eq '{group_id}' and principalId eq '{principal_id}'"}
        listing = self._call("GET", INSTANCES, params=query)
        for item in listing.get("value", []):
            if item.get("assignmentScheduleId") == schedule_id:
                return str(item["id"])
        # A request scheduled to start later has no instance yet: hand back the schedule id.
        return str(schedule_id)

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        for attempt in range(self._max_retries + 1):
            response = self._client.request(method, path, **kwargs)
            if response.status_code in (429, 503) and attempt < self._max_retries:
                time.sleep(float(response.headers.get("Retry-After", "1")))
                continue
            payload = response.json() if response.content else {}
            if response.is_success:
                return dict(payload)
            error = payload.get("error", {}) if isinstance(payload, dict) else {}
            raise GraphActorError(
                response.status_code, error.get("code", ""), error.get("message", "")
            )
        raise AssertionError("unreachable")


def _schedule(duration: timedelta) -> dict[str, Any]:
    # No startDateTime: PIM starts the request when it processes it (sandbox clock included).
    return {"expiration": {"type": "afterDuration", "duration": iso_duration(duration)}}
