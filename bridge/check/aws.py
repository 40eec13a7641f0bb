"""A mapping's AWS side: its Identity Center group, permission sets and accounts resolve, and
what the mapping would do that an operator may not expect: members the bridge did not add in a
`drift = "remove"` group, activations PIM lets last longer than the permission set's sessions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bridge.check.entra import EntraSide
from bridge.check.lines import Checks, State, span
from bridge.config import AssignmentConfig, MappingConfig
from bridge.errors import SinkError
from bridge.identity_center.adapter import AwsIdentityCenter
from bridge.model import GroupMembership
from bridge.ownership import bridge_owned, not_owned_reason

_ACCOUNT_STATES: dict[str, State] = {"ok": "ok", "missing": "failed", "skipped": "skipped"}
# Target key -> Identity Center user ids the ledger says the bridge holds it for.
HeldBy = Callable[[str], set[str]]


def check_aws(
    mapping: MappingConfig,
    ic: AwsIdentityCenter,
    held_by: HeldBy,
    entra: EntraSide | None,
    checks: Checks,
) -> None:
    subject = f"mapping {mapping.name}"
    if mapping.identity_center_group:
        _group(subject, mapping, ic, held_by, checks)
    for account in sorted({a.account_id for a in mapping.assignments}):
        _account(subject, account, ic, checks)
    for a in mapping.assignments:
        _permission_set(subject, a, ic, entra, checks)


def _group(
    subject: str, mapping: MappingConfig, ic: AwsIdentityCenter, held_by: HeldBy, checks: Checks
) -> None:
    name = mapping.identity_center_group
    try:
        group = GroupMembership(ic.resolve_group(name))
        description = ic.directory.describe_group(group.group_id)[1]
    except SinkError as exc:
        checks.fail(f"{subject}: Identity Center group", f"{name}: {exc}")
        return
    owned = bridge_owned(description)
    checks.ok(
        f"{subject}: Identity Center group",
        f"{name} resolves" + (", bridge-owned" if owned else ""),
    )
    if mapping.drift != "remove":
        return
    try:
        foreign = ic.holders(group) - held_by(group.key)
        names = sorted(ic.user_name(u) or u for u in foreign)
    except SinkError as exc:
        checks.fail(f"{subject}: members of {name}", f"cannot be read: {exc}")
        return
    if not names:
        return
    who = f"{len(names)} member(s) the bridge did not add ({', '.join(names)})"
    if owned:
        checks.warn(f"{subject}: drift", f'{name} has {who}; drift = "remove" removes them')
    else:
        checks.warn(
            f"{subject}: drift",
            f'{name} has {who}; drift = "remove" keeps them: {not_owned_reason()}',
        )


def _permission_set(
    subject: str,
    a: AssignmentConfig,
    ic: AwsIdentityCenter,
    entra: EntraSide | None,
    checks: Checks,
) -> None:
    name = a.permission_set.rsplit("/", 1)[-1]
    try:
        session = ic.session_duration(ic.resolve_permission_set(a.permission_set))
    except SinkError as exc:
        checks.fail(f"{subject}: permission set", f"{name}: {exc}")
        return
    checks.ok(f"{subject}: permission set", f"{name} resolves, its sessions last {span(session)}")
    limit = entra.max_activation if entra else None
    if entra is not None and limit is not None and limit > session:
        checks.warn(f"{subject}: session duration", _longer(entra.group_name, limit, name, session))


def _longer(group: str, limit: timedelta, permission_set: str, session: timedelta) -> str:
    return (
        f"PIM lets an activation of {group} last {span(limit)}, longer than a {permission_set} "
        f"session ({span(session)}): users sign in again during an activation, or raise the "
        "permission set's session duration"
    )


def _account(subject: str, account_id: str, ic: AwsIdentityCenter, checks: Checks) -> None:
    try:
        found = ic.check_account(account_id)
    except SinkError as exc:
        checks.fail(f"{subject}: account {account_id}", str(exc))
        return
    checks.add(f"{subject}: account {account_id}", _ACCOUNT_STATES[found.state], found.detail)
