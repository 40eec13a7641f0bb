"""A mapping's Entra side: its group id is an object id, the group exists, PIM for Groups
answers for it, and how long its policy lets an activation last."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from bridge.check.lines import Checks, span
from bridge.config import MappingConfig
from bridge.errors import Unreadable
from bridge.graph.config_reads import EntraGroup, GraphConfigReader
from bridge.ports import GroupRead

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
# What Graph needs to list a group's PIM assignments (either is enough).
PIM_PERMISSIONS = (
    "PrivilegedAccess.Read.AzureADGroup or PrivilegedAssignmentSchedule.Read.AzureADGroup"
)


@dataclass(frozen=True)
class EntraSide:
    """What the AWS side's checks need from the Entra side."""

    group_name: str  # the group's display name, or its id when that could not be read
    max_activation: timedelta | None  # None: no limit, or the policy could not be read


def is_object_id(group_id: str) -> bool:
    return GUID.match(group_id) is not None


def well_formed(mapping: MappingConfig, checks: Checks) -> bool:
    group_id = mapping.entra_group_id
    if is_object_id(group_id):
        return True
    hint = ""
    if not re.fullmatch(r"[0-9a-fA-F-]+", group_id):
        hint = "; it looks like a display name: use the group's Object ID from Entra"
    checks.fail(
        f"mapping {mapping.name}: Entra group",
        f"entra_group_id {group_id!r} is not an object id (a GUID){hint}",
    )
    return False


def check_entra(
    mapping: MappingConfig, reader: GraphConfigReader, read: GroupRead, checks: Checks
) -> EntraSide | None:
    """None when the group does not exist: nothing else of the mapping can match then."""
    subject = f"mapping {mapping.name}"
    group = reader.group(mapping.entra_group_id)
    if group is None:
        checks.fail(f"{subject}: Entra group", f"no group with id {mapping.entra_group_id}")
        return None
    name = _group_name(subject, mapping.entra_group_id, group, checks)
    if read.error:
        why = read.error
        if "HTTP 403" in read.error:
            why += f"; the app needs {PIM_PERMISSIONS}"
        checks.fail(f"{subject}: PIM for Groups", f"does not answer for {name}: {why}")
    else:
        n = len(read.instances)
        checks.ok(f"{subject}: PIM for Groups", f"answers for {name}, {n} active instance(s)")
    return EntraSide(name, _policy(subject, mapping, name, reader, checks))


def _group_name(subject: str, group_id: str, group: EntraGroup | Unreadable, checks: Checks) -> str:
    if isinstance(group, EntraGroup):
        checks.ok(f"{subject}: Entra group", f"{group.name} exists")
        return group.name
    if group.permission:
        checks.skip(f"{subject}: Entra group", f"cannot be read: {group}")
    else:
        checks.fail(f"{subject}: Entra group", f"{group_id} cannot be read: {group}")
    return group_id


def _policy(
    subject: str, mapping: MappingConfig, name: str, reader: GraphConfigReader, checks: Checks
) -> timedelta | None:
    limit = reader.max_activation(mapping.entra_group_id, mapping.access)
    if isinstance(limit, Unreadable):
        checks.skip(f"{subject}: PIM policy", f"of {name} not read: {limit}")
        return None
    if limit is None:
        checks.ok(f"{subject}: PIM policy", f"{name} sets no end to {mapping.access} activations")
        return None
    checks.ok(
        f"{subject}: PIM policy", f"{name}: {mapping.access} activations last {span(limit)} at most"
    )
    return limit
