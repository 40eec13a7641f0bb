"""The in-memory Entra tenant behind the Graph sandbox: directory objects, PIM for Groups
eligibilities, assignment schedules and instances, and the requests that changed them.

Time comes from the injected clock, so an instance whose end has passed simply stops being
listed, as in Graph, and a two-hour scenario runs in seconds.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from bridge.ports import Clock, SystemClock
from bridge.sandbox.graph.http import GraphApiError, resource_not_found

ObjectKind = Literal["user", "group", "servicePrincipal"]

ACTIONS = (
    "selfActivate",
    "selfDeactivate",
    "selfExtend",
    "adminAssign",
    "adminRemove",
    "adminExtend",
)
# Documented actions this sandbox does not model: refused with a clear message, not ignored.
UNSUPPORTED_ACTIONS = ("adminUpdate", "adminRenew", "selfRenew")


@dataclass
class DirectoryObject:
    id: str
    kind: ObjectKind
    display_name: str
    user_principal_name: str | None = None
    mail: str | None = None


@dataclass
class Instance:
    id: str
    schedule_id: str
    group_id: str
    principal_id: str
    access_id: str
    assignment_type: str  # 'activated' | 'assigned'
    member_type: str  # 'direct' | 'group'
    start: datetime
    end: datetime | None

    def live_at(self, now: datetime) -> bool:
        return self.start <= now and (self.end is None or now < self.end)


@dataclass
class ScheduleRequest:
    id: str
    action: str
    group_id: str
    principal_id: str
    access_id: str
    created: datetime
    created_by: str
    justification: str | None
    ticket_number: str | None
    ticket_system: str | None
    schedule_info: dict[str, Any]
    target_schedule_id: str | None
    status: str = "Provisioned"
    custom_data: str | None = None


@dataclass
class Tenant:
    clock: Clock = field(default_factory=SystemClock)
    objects: dict[str, DirectoryObject] = field(default_factory=dict)
    eligibilities: set[tuple[str, str, str]] = field(default_factory=set)
    instances: list[Instance] = field(default_factory=list)
    requests: list[ScheduleRequest] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Apps and health data in Graph's JSON shapes (applications, servicePrincipals,
    # synchronization jobs by service principal id, provisioning log entries, oldest first).
    applications: dict[str, dict[str, Any]] = field(default_factory=dict)
    service_principals: dict[str, dict[str, Any]] = field(default_factory=dict)
    sync_jobs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    provisioning_logs: list[dict[str, Any]] = field(default_factory=list)
    # Areas that answer 403, as when the app lacks the permission: reads of 'provisioning'
    # (AuditLog.Read.All), 'synchronization', 'applications'; the application's own
    # 'assignment_requests' (PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup).
    denied: set[str] = field(default_factory=set)
    # Positions in `instances` and `requests` per group, so a list scoped to one group does not
    # scan the whole tenant (2,000 groups x 20,000 instances in the scale benchmark). Both
    # lists are only appended to or replaced in place, never reordered, so positions hold.
    _by_group: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _indexed: int = 0
    _requests_by_group: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _requests_indexed: int = 0

    def deny(self, area: str) -> None:
        """Calls to `area` answer 403 Authorization_RequestDenied from now on."""
        with self.lock:
            self.denied.add(area)

    # -- seeding -------------------------------------------------------------------------------

    def add_object(self, obj: DirectoryObject) -> str:
        with self.lock:
            self.objects[obj.id] = obj
        return obj.id

    def add_eligibility(self, principal_id: str, group_id: str, access_id: str = "member") -> None:
        with self.lock:
            self._require_object(principal_id)
            self._require_group(group_id)
            self.eligibilities.add((principal_id, group_id, access_id))

    # -- reads ---------------------------------------------------------------------------------

    def instances_of(self, group_id: str) -> list[Instance]:
        """Every instance of `group_id`, ended ones included, from the per-group index."""
        with self.lock:
            for n in range(self._indexed, len(self.instances)):
                self._by_group.setdefault(self.instances[n].group_id, []).append(n)
            self._indexed = len(self.instances)
            return [self.instances[n] for n in self._by_group.get(group_id, [])]

    def live_instances(self, group_id: str | None, principal_id: str | None) -> list[Instance]:
        now = self.clock.now()
        with self.lock:
            scope = self.instances if group_id is None else self.instances_of(group_id)
            return [
                i
                for i in scope
                if i.live_at(now)
                and (group_id is None or i.group_id == group_id)
                and (principal_id is None or i.principal_id == principal_id)
            ]

    def schedule_requests(
        self, group_id: str | None, principal_id: str | None
    ) -> list[ScheduleRequest]:
        with self.lock:
            if group_id is not None:
                for n in range(self._requests_indexed, len(self.requests)):
                    self._requests_by_group.setdefault(self.requests[n].group_id, []).append(n)
                self._requests_indexed = len(self.requests)
                scope = [self.requests[n] for n in self._requests_by_group.get(group_id, [])]
            else:
                scope = self.requests
            return [
                r
                for r in scope
                if (group_id is None or r.group_id == group_id)
                and (principal_id is None or r.principal_id == principal_id)
            ]

    # -- the one write: a schedule request -----------------------------------------------------

    def submit(self, body: Any, caller: str | None) -> ScheduleRequest:
        """Validate and carry out an assignmentScheduleRequest as PIM would."""
        if not isinstance(body, dict):
            raise GraphApiError(400, "BadRequest", "The request body must be a JSON object.")
        for key in ("accessId", "principalId", "groupId", "action"):
            if not body.get(key):
                raise GraphApiError(400, "BadRequest", f"The property '{key}' is required.")
        action = body["action"]
        if action in UNSUPPORTED_ACTIONS:
            raise GraphApiError(400, "BadRequest", f"The sandbox does not model action '{action}'.")
        if action not in ACTIONS:
            raise GraphApiError(
                400, "BadRequest", f"The value '{action}' is not valid for the property 'action'."
            )
        access_id = body["accessId"]
        if access_id not in ("member", "owner"):
            raise GraphApiError(
                400, "BadRequest", f"The value '{access_id}' is not valid for 'accessId'."
            )
        principal_id, group_id = body["principalId"], body["groupId"]
        ticket = body.get("ticketInfo") or {}
        with self.lock:
            self._require_object(principal_id)
            self._require_group(group_id)
            now = self.clock.now()
            request = ScheduleRequest(
                id=str(uuid.uuid4()),
                action=action,
                group_id=group_id,
                principal_id=principal_id,
                access_id=access_id,
                created=now,
                created_by=principal_id if action.startswith("self") else (caller or ""),
                justification=body.get("justification"),
                ticket_number=ticket.get("ticketNumber"),
                ticket_system=ticket.get("ticketSystem"),
                schedule_info=dict(body.get("scheduleInfo") or {}),
                target_schedule_id=None,
                custom_data=body.get("customData"),
            )
            handler = getattr(self, "_" + re.sub(r"(?<!^)([A-Z])", r"_\1", action).lower())
            request.target_schedule_id = handler(request, now)
            self.requests.append(request)
            return request

    def _self_activate(self, req: ScheduleRequest, now: datetime) -> str:
        if (req.principal_id, req.group_id, req.access_id) not in self.eligibilities:
            raise GraphApiError(
                400,
                "RoleAssignmentRequestPolicyValidationFailed",
                'The following policy rules failed: ["EligibilityRule"]',
            )
        if self._live(req, "activated", now):
            raise GraphApiError(400, "RoleAssignmentExists", "The Role assignment already exists.")
        start, end = _window(req.schedule_info, now, require_end=True)
        return self._create(req, "activated", start, end)

    def _admin_assign(self, req: ScheduleRequest, now: datetime) -> str:
        if self._live(req, "assigned", now):
            raise GraphApiError(400, "RoleAssignmentExists", "The Role assignment already exists.")
        start, end = _window(req.schedule_info, now, require_end=False)
        return self._create(req, "assigned", start, end)

    def _self_deactivate(self, req: ScheduleRequest, now: datetime) -> str:
        return self._end(req, ("activated",), now)

    def _admin_remove(self, req: ScheduleRequest, now: datetime) -> str:
        # An administrator ends active access whichever way it began.
        return self._end(req, ("assigned", "activated"), now)

    def _self_extend(self, req: ScheduleRequest, now: datetime) -> str:
        return self._extend(req, ("activated",), now)

    def _admin_extend(self, req: ScheduleRequest, now: datetime) -> str:
        return self._extend(req, ("activated", "assigned"), now)

    def _create(
        self, req: ScheduleRequest, kind: str, start: datetime, end: datetime | None
    ) -> str:
        schedule_id = f"{req.group_id}_{req.access_id}_{req.id}"
        self.instances.append(
            Instance(
                id=f"{req.group_id}_{req.access_id}_{uuid.uuid4()}",
                schedule_id=schedule_id,
                group_id=req.group_id,
                principal_id=req.principal_id,
                access_id=req.access_id,
                assignment_type=kind,
                member_type="direct",
                start=start,
                end=end,
            )
        )
        return schedule_id

    def _end(self, req: ScheduleRequest, kinds: tuple[str, ...], now: datetime) -> str:
        found = next((i for k in kinds if (i := self._live(req, k, now))), None)
        if not found:
            raise GraphApiError(
                400, "RoleAssignmentDoesNotExist", "The Role assignment does not exist."
            )
        self.instances[self.instances.index(found)] = replace(found, end=now)
        return found.schedule_id

    def _extend(self, req: ScheduleRequest, kinds: tuple[str, ...], now: datetime) -> str:
        found = next((i for k in kinds if (i := self._live(req, k, now))), None)
        if not found:
            raise GraphApiError(
                400, "RoleAssignmentDoesNotExist", "The Role assignment does not exist."
            )
        if found.end is None:
            raise GraphApiError(400, "BadRequest", "A permanent assignment has no end to extend.")
        expiration = req.schedule_info.get("expiration") or {}
        if expiration.get("type") == "afterDateTime":
            new_end = parse_datetime(expiration.get("endDateTime"), "endDateTime")
        else:
            # The sandbox reads an extension's duration as time added to the current end.
            new_end = found.end + parse_duration(expiration.get("duration"))
        self.instances[self.instances.index(found)] = replace(found, end=max(found.end, new_end))
        return found.schedule_id

    def _live(self, req: ScheduleRequest, kind: str, now: datetime) -> Instance | None:
        return next(
            (
                i
                for i in self.instances
                if i.live_at(now)
                and i.assignment_type == kind
                and (i.principal_id, i.group_id, i.access_id)
                == (req.principal_id, req.group_id, req.access_id)
            ),
            None,
        )

    def _require_object(self, object_id: str) -> DirectoryObject:
        obj = self.objects.get(object_id)
        if obj is None:
            raise resource_not_found(object_id)
        return obj

    def _require_group(self, group_id: str) -> DirectoryObject:
        obj = self._require_object(group_id)
        if obj.kind != "group":
            raise GraphApiError(400, "BadRequest", f"'{group_id}' is not a group.")
        return obj


def _window(
    info: dict[str, Any], now: datetime, *, require_end: bool
) -> tuple[datetime, datetime | None]:
    start = (
        parse_datetime(info["startDateTime"], "startDateTime") if info.get("startDateTime") else now
    )
    # PIM starts a request dated in the past at the moment it processes it.
    start = max(start, now)
    expiration = info.get("expiration") or {}
    kind = expiration.get("type") or "noExpiration"
    if kind == "afterDuration":
        return start, start + parse_duration(expiration.get("duration"))
    if kind == "afterDateTime":
        return start, parse_datetime(expiration.get("endDateTime"), "endDateTime")
    if kind == "noExpiration" and not require_end:
        return start, None
    raise GraphApiError(
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
        'The following policy rules failed: ["ExpirationRule"]',
    )


_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: Any) -> timedelta:
    """ISO 8601 duration as Graph writes them: PT2H, PT30M, P1D, PT1H30M."""
    m = _ISO_DURATION.match(str(value or ""))
    if not value or not m or not any(m.groupdict().values()):
        raise GraphApiError(400, "BadRequest", f"'{value}' is not a valid ISO 8601 duration.")
    parts = {k: float(v) for k, v in m.groupdict().items() if v}
    return timedelta(
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("m", 0),
        seconds=parts.get("s", 0),
    )


def parse_datetime(value: Any, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise GraphApiError(400, "BadRequest", f"'{value}' is not a valid {name}.") from None
    if parsed.tzinfo is None:
        raise GraphApiError(400, "BadRequest", f"{name} must carry a time zone (e.g. Z).")
    return parsed
