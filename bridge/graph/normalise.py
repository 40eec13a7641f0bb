"""Graph JSON to `bridge.ports.PimInstance`: the only place that knows Graph's shapes.

Pure functions, no I/O. Tolerant where Microsoft is inconsistent (enum casing, fractional
seconds, null start of a permanent assignment), strict where a wrong guess could grant access
(a missing principal, type or access id makes the item malformed, never defaulted)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bridge.model import as_utc
from bridge.ports import PimInstance

# A permanent assignment may have no start in Graph; it has held since before we looked.
SINCE_EVER = datetime(1970, 1, 1, tzinfo=UTC)

ASSIGNMENT_TYPES = frozenset({"activated", "assigned"})
MEMBER_TYPES = frozenset({"direct", "group"})
ACCESS_IDS = frozenset({"member", "owner"})
# Requests whose justification describes the access an instance grants now.
GRANTING_ACTIONS = frozenset(
    {
        "selfactivate",
        "selfextend",
        "selfrenew",
        "adminassign",
        "adminextend",
        "adminrenew",
        "adminupdate",
    }
)
# Requests that end the access of their target schedule early.
ENDING_ACTIONS = frozenset({"selfdeactivate", "adminremove"})
_FAILED_STATUSES = ("denied", "failed", "canceled", "revoked")
# An ending request that went through is 'Revoked' (its schedule's access was taken away).
_FAILED_ENDINGS = ("denied", "failed", "canceled")
# Justifications of one schedule (the activation's, then each extension's), in order.
JUSTIFICATION_SEPARATOR = " | "
# "2026-11-24T12:00:00.1234567+05:30" is 33 characters; anything much longer is not Graph's.
_LONGEST_TIMESTAMP = 40
# A request that ended its target schedule's access early: the schedule, and PIM's time of it.
Ending = tuple[str, datetime]
_REQUIRED = ("id", "groupId", "principalId", "accessId", "assignmentType", "memberType")


class MalformedItem(ValueError):
    """An item Graph returned that cannot be read safely; it is skipped and reported."""


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What a schedule request adds to the instance it produced, for the audit trail."""

    schedule_id: str
    action: str
    created: datetime
    justification: str | None
    ticket: str | None
    creator_id: str | None  # user id in createdBy, for admin actions only
    creator_name: str | None  # name Graph gave with it, if any
    ticket_system: str | None = None

    def then(self, later: RequestInfo) -> RequestInfo:
        """This request's audit facts followed by a later one's on the same schedule: every
        justification and ticket kept in order, the later creator (an admin's extension)."""
        return replace(
            later,
            justification=_joined(self.justification, later.justification),
            ticket=_joined(self.ticket, later.ticket, ", "),
            ticket_system=later.ticket_system if later.ticket else self.ticket_system,
            creator_id=later.creator_id or self.creator_id,
            creator_name=later.creator_name if later.creator_id else self.creator_name,
        )


def _joined(first: str | None, then: str | None, sep: str = JUSTIFICATION_SEPARATOR) -> str | None:
    if not first or not then or then in first.split(sep):
        return first or then
    return f"{first}{sep}{then}"


def parse_datetime(value: Any) -> datetime | None:
    """Graph timestamps (Z, up to 7 fractional digits) as aware UTC; None stays None.

    A moment UTC cannot hold (`9999-12-31T23:30:00-01:00` is in year 10000) is malformed like
    any other unreadable value: the item is skipped, never an OverflowError that would stop
    the whole read."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > _LONGEST_TIMESTAMP:
        raise MalformedItem(f"not a timestamp: {value!r:.60}")
    try:
        # Graph always means UTC; a value without an offset is read as UTC, not local time.
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise MalformedItem(f"not a timestamp: {value!r}") from None
    except OverflowError:
        raise MalformedItem(f"timestamp out of range: {value!r}") from None


def enum_value(value: Any, allowed: frozenset[str], name: str) -> str:
    """Lower-cased enum value: Microsoft's examples write 'Assigned', the schema 'assigned'."""
    if not isinstance(value, str) or value.lower() not in allowed:
        raise MalformedItem(f"{name} {value!r} is not one of {sorted(allowed)}")
    return value.lower()


def principal_type(odata_type: Any) -> str:
    if not isinstance(odata_type, str) or not odata_type:
        return "unknown"
    return odata_type.rsplit(".", 1)[-1]


def principal_attributes(principal: Any) -> dict[str, str]:
    if not isinstance(principal, Mapping):
        return {}
    keys = ("userPrincipalName", "mail", "displayName")
    return {k: principal[k] for k in keys if isinstance(principal.get(k), str) and principal[k]}


def parse_request(item: Mapping[str, Any]) -> RequestInfo | None:
    """The audit facts of one assignmentScheduleRequest, or None when it granted nothing."""
    action = item.get("action")
    schedule_id = item.get("targetScheduleId")
    if not isinstance(action, str) or not isinstance(schedule_id, str) or not schedule_id:
        return None
    if action.lower() not in GRANTING_ACTIONS:
        return None
    status = str(item.get("status") or "").lower()
    if any(word in status for word in _FAILED_STATUSES):
        return None
    try:
        created = parse_datetime(item.get("createdDateTime")) or SINCE_EVER
    except MalformedItem:
        created = SINCE_EVER
    ticket, ticket_system = _ticket(item.get("ticketInfo"))
    creator_id = creator_name = None
    if action.lower().startswith("admin"):
        created_by = item.get("createdBy")
        who = None
        if isinstance(created_by, Mapping):
            who = created_by.get("user") or created_by.get("application")
        if isinstance(who, Mapping):
            creator_id = who.get("id") if isinstance(who.get("id"), str) else None
            name = who.get("userPrincipalName") or who.get("displayName")
            creator_name = name if isinstance(name, str) and name else None
    justification = item.get("justification")
    return RequestInfo(
        schedule_id=schedule_id,
        action=action,
        created=created,
        justification=justification if isinstance(justification, str) and justification else None,
        ticket=ticket,
        creator_id=creator_id,
        creator_name=creator_name,
        ticket_system=ticket_system,
    )


def _ticket(info: Any) -> tuple[str | None, str | None]:
    """(ticketNumber, ticketSystem) of a request's ticketInfo, None where not given."""
    if not isinstance(info, Mapping):
        return None, None
    number, system = info.get("ticketNumber"), info.get("ticketSystem")
    return (
        number if isinstance(number, str) and number else None,
        system if isinstance(system, str) and system else None,
    )


def schedule_requests(items: Iterable[Mapping[str, Any]]) -> dict[str, RequestInfo]:
    """The granting requests of each target schedule, oldest first, as one: an extension's
    justification is appended to the activation's, never replacing it."""
    return merged_requests(parse_request(item) for item in items)


def merged_requests(parsed: Iterable[RequestInfo | None]) -> dict[str, RequestInfo]:
    """`schedule_requests` of requests already parsed (None: one that granted nothing)."""
    found = [info for info in parsed if info is not None]
    merged: dict[str, RequestInfo] = {}
    for info in sorted(found, key=lambda r: r.created):
        known = merged.get(info.schedule_id)
        merged[info.schedule_id] = info if known is None else known.then(info)
    return merged


def ending_requests(items: Iterable[Mapping[str, Any]]) -> dict[str, datetime]:
    """When each target schedule's access was asked to end early (a self-deactivation or an
    admin's removal that went through): PIM's own time, `createdDateTime`."""
    return latest_ends(ending_of(item) for item in items)


def ending_of(item: Mapping[str, Any]) -> Ending | None:
    """The target schedule an ending request that went through ended, and PIM's time of it."""
    action, schedule_id = item.get("action"), item.get("targetScheduleId")
    if not isinstance(action, str) or action.lower() not in ENDING_ACTIONS:
        return None
    status = str(item.get("status") or "").lower()
    if not isinstance(schedule_id, str) or any(w in status for w in _FAILED_ENDINGS):
        return None
    try:
        created = parse_datetime(item.get("createdDateTime"))
    except MalformedItem:
        return None
    return None if created is None else (schedule_id, created)


def latest_ends(endings: Iterable[Ending | None]) -> dict[str, datetime]:
    """`ending_requests` of endings already read (None: a request that ended nothing)."""
    ends: dict[str, datetime] = {}
    for ending in endings:
        if ending is None:
            continue
        schedule_id, created = ending
        if schedule_id not in ends or created > ends[schedule_id]:
            ends[schedule_id] = created
    return ends


def parse_instance(
    item: Mapping[str, Any],
    group_id: str,
    requests: Mapping[str, RequestInfo] | None = None,
    names: Mapping[str, str] | None = None,
) -> PimInstance:
    """One assignmentScheduleInstance of `group_id`. Raises MalformedItem."""
    schedule_id = item.get("assignmentScheduleId") if isinstance(item, Mapping) else None
    return audited(bare_instance(item, group_id), schedule_id, requests, names)


def bare_instance(item: Mapping[str, Any], group_id: str) -> PimInstance:
    """`parse_instance` without the audit details its request adds. Raises MalformedItem."""
    if not isinstance(item, Mapping):
        raise MalformedItem("not an object")
    missing = [k for k in _REQUIRED if not isinstance(item.get(k), str) or not item.get(k)]
    if missing:
        raise MalformedItem("missing " + ", ".join(missing))
    if item["groupId"] != group_id:
        raise MalformedItem(f"belongs to group {item['groupId']}, not {group_id}")
    start = parse_datetime(item.get("startDateTime")) or SINCE_EVER
    end = parse_datetime(item.get("endDateTime"))
    principal = item.get("principal")
    kind = (
        principal_type(principal.get("@odata.type"))
        if isinstance(principal, Mapping)
        else "unknown"
    )
    return PimInstance(
        id=item["id"],
        group_id=group_id,
        principal_id=item["principalId"],
        principal_type=kind,
        access_id=enum_value(item["accessId"], ACCESS_IDS, "accessId"),
        assignment_type=enum_value(item["assignmentType"], ASSIGNMENT_TYPES, "assignmentType"),
        member_type=enum_value(item["memberType"], MEMBER_TYPES, "memberType"),
        start=start,
        end=end,
        principal=principal_attributes(principal),
    )


def audited(
    instance: PimInstance,
    schedule_id: Any,
    requests: Mapping[str, RequestInfo] | None = None,
    names: Mapping[str, str] | None = None,
) -> PimInstance:
    """The instance with the audit details of the request of its schedule, if one is known."""
    request = (requests or {}).get(schedule_id) if isinstance(schedule_id, str) else None
    if request is None:
        return instance
    approver = None
    if request.creator_id:
        approver = (
            request.creator_name or (names or {}).get(request.creator_id) or request.creator_id
        )
    return replace(
        instance,
        justification=request.justification,
        ticket=request.ticket,
        ticket_system=request.ticket_system,
        approver=approver,
    )


@dataclass(frozen=True, slots=True)
class Listed:
    """An instance item as it arrived, kept in place of its JSON: its id and what may come with
    a new request when it changes (its schedule and window, as Graph wrote them), and the
    instance without its request's audit details, or why it cannot be read."""

    id: str | None
    mark: tuple[Any, Any, Any]
    instance: PimInstance | None = None
    skipped: str | None = None


def listed_instance(item: Any, group_id: str) -> Listed:
    if not isinstance(item, dict):
        return Listed(None, (None, None, None), skipped=f"{describe(item)}: not an object")
    raw_id = item.get("id")
    mark = (item.get("assignmentScheduleId"), item.get("startDateTime"), item.get("endDateTime"))
    try:
        instance = bare_instance(item, group_id)
    except MalformedItem as exc:
        return Listed(
            raw_id if isinstance(raw_id, str) else None, mark, skipped=f"{describe(item)}: {exc}"
        )
    return Listed(instance.id, mark, instance)


def listed_request(
    item: Mapping[str, Any],
) -> tuple[RequestInfo | None, Ending | None]:
    """A request item as it arrived: what it grants and what it ends, in place of its JSON."""
    return parse_request(item), ending_of(item)


def describe(item: Any) -> str:
    """A short, secret-free name for an item in logs and GroupRead.skipped."""
    if isinstance(item, Mapping) and isinstance(item.get("id"), str):
        return f"item {item['id']}"
    return "item without id"
