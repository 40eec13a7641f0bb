"""Who holds what now, from the ledger alone: each holding with the live grant that keeps it,
the holdings left to remove (held back by the safety brake, or failing), those whose mapping
left the config, and the session denials armed or in force. No Graph or AWS call is made; names
come from the ledger (users) and the config (groups, permission sets)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bridge.denial.writer import armed_from
from bridge.model import Binding, Grant, as_utc
from bridge.redact import redact
from bridge.report.names import Names, Target
from bridge.status.filters import StatusFilter
from bridge.store import Holding, StatusReader

# Identity Center's longest session: a denial of sessions issued before a revocation matters
# for this long after it, and no longer.
LONGEST_SESSION = timedelta(hours=12)


@dataclass(frozen=True)
class HolderRow:
    """A user holding a target now, and the PIM grant that is why."""

    user: str
    mapping: str
    entra_group_id: str | None
    target: Target
    since: datetime  # the grant's start
    until: datetime | None  # None: permanent
    left: timedelta | None
    instance_id: str
    state: str  # held | adding (creation not yet confirmed) | remove_failed


@dataclass(frozen=True)
class PendingRow:
    """A holding no live grant backs: a removal still to come, and why it has not happened."""

    user: str
    mapping: str | None
    target: Target
    ended: datetime | None  # the last grant's end
    why: str


@dataclass(frozen=True)
class DenialRow:
    user: str
    permission_set: str
    accounts: tuple[str, ...]
    issued_before: datetime  # sessions issued before this are denied
    state: str  # armed | in force | not written
    in_force_from: datetime | None
    detail: str | None


@dataclass(frozen=True)
class BlockedRow:
    """A user the bridge refuses to grant anything to, until `pim-bridge unblock`."""

    user: str
    since: datetime
    blocked_by: str
    reason: str | None


@dataclass
class Status:
    at: datetime
    holders: list[HolderRow] = field(default_factory=list)
    pending: list[PendingRow] = field(default_factory=list)  # held removals
    orphans: list[HolderRow] = field(default_factory=list)
    denials: list[DenialRow] = field(default_factory=list)
    brake: str | None = None  # what the safety brake holds, while it holds
    # None: nobody is blocked, and the section is left out (JSON: null).
    blocked: list[BlockedRow] | None = None


def read_status(reader: StatusReader, names: Names, now: datetime, f: StatusFilter) -> Status:
    holdings = reader.holdings()
    users = reader.user_names()
    live = [g for g in reader.live_grants() if g.live_at(now)]
    backing: dict[Binding, list[Grant]] = defaultdict(list)
    for g in live:
        backing[Binding(g.user.ic_user_id, g.target)].append(g)
    unbacked = [h for h in holdings if h.binding not in backing]
    last = _last_grants(reader.last_grants([h.binding.ic_user_id for h in unbacked]))
    status = Status(now, brake=_brake(reader.last_cycle(), reader.brake_since()))
    for h in holdings:
        for g in sorted(backing.get(h.binding, []), key=lambda g: (g.mapping, g.not_after or now)):
            row = _holder(h, g, names, now)
            (status.holders if names.configured(g.mapping) else status.orphans).append(row)
    for h in unbacked:
        grant = last.get(h.binding)
        if grant is not None and not names.configured(grant.mapping):
            status.orphans.append(_holder(h, grant, names, now))
        else:
            status.pending.append(_pending(h, grant, names, status.brake))
    status.holders.sort(key=lambda r: (r.user, r.target.label, r.mapping))
    status.orphans.sort(key=lambda r: (r.user, r.target.label, r.mapping))
    status.pending.sort(key=lambda r: (r.user, r.target.label))
    status.denials = _denials(reader.denials_since(now - LONGEST_SESSION), users, names, live, now)
    status.blocked = _blocked(reader.blocked())
    return f.resolve(users).apply(status)


def _holder(h: Holding, g: Grant, names: Names, now: datetime) -> HolderRow:
    until = g.not_after
    return HolderRow(
        user=g.user.name,
        mapping=g.mapping,
        entra_group_id=names.entra_group_of.get(g.mapping),
        target=names.target(g.mapping, h.binding.target_key),
        since=g.not_before,
        until=until,
        left=None if until is None else max(until - now, timedelta(0)),
        instance_id=g.source_instance_id,
        state=h.state,
    )


def _pending(h: Holding, grant: Grant | None, names: Names, brake: str | None) -> PendingRow:
    if h.state == "remove_failed":
        why = f"removal failing: {redact(h.last_error or 'unknown error')}"
    elif brake is not None:
        why = "held back by the safety brake"
    else:
        why = "removal due at the next cycle"
    mapping = grant.mapping if grant else None
    return PendingRow(
        user=h.user_name,
        mapping=mapping,
        target=names.target(mapping or "", h.binding.target_key),
        ended=grant.not_after if grant else None,
        why=why,
    )


def _blocked(rows: Iterable[Any]) -> list[BlockedRow] | None:
    out = [BlockedRow(r.user_name, as_utc(r.since), r.blocked_by, r.reason) for r in rows]
    return out or None


def _last_grants(ended: Iterable[Grant]) -> dict[Binding, Grant]:
    """Per binding, the grant that ended last (the reader gives them oldest end first)."""
    return {Binding(g.user.ic_user_id, g.target): g for g in ended}


def _brake(cycle: dict[str, Any] | None, since: datetime | None) -> str | None:
    held = int(((cycle or {}).get("summary") or {}).get("held", 0))
    if not held:
        return None
    when = f" (reported {since:%Y-%m-%d %H:%M:%SZ})" if since else ""
    return f"{held} removals held back by safety.max_removals_per_cycle{when}"


def _denials(
    rows: Iterable[Any], users: dict[str, str], names: Names, live: list[Grant], now: datetime
) -> list[DenialRow]:
    latest: dict[tuple[str, str], Any] = {}
    for r in rows:  # oldest first: the last row of a user's policy says where it stands
        latest[(r.ic_user_id, r.permission_set_arn)] = r
    out = []
    ps_names = _permission_set_names(live, names)
    for r in latest.values():
        if r.status == "disarmed":
            continue
        effective = armed_from(r.detail)
        if r.status != "provisioned":
            state = "not written"
        else:
            state = "armed" if effective is not None and effective > now else "in force"
        out.append(
            DenialRow(
                user=users.get(r.ic_user_id, r.ic_user_id),
                permission_set=ps_names.get(r.permission_set_arn)
                or r.permission_set_arn.rsplit("/", 1)[-1],
                accounts=tuple(r.accounts or ()),
                issued_before=as_utc(r.at),
                state=state,
                in_force_from=effective,
                detail=None if r.status == "provisioned" else r.detail,
            )
        )
    return sorted(out, key=lambda d: (d.user, d.permission_set))


def _permission_set_names(grants: Iterable[Grant], names: Names) -> dict[str, str]:
    """Permission set ARN -> its configured name, for the ARNs the grants name."""
    out: dict[str, str] = {}
    for g in grants:
        t = names.target(g.mapping, g.target.key)
        if t.permission_set_arn and t.permission_set:
            out[t.permission_set_arn] = t.permission_set
    return out
