"""One row per grant, built from the ledger: who held what, from when to when, on whose approval,
and whether access was really gone when PIM said it ended.

The grants table is streamed; the changes, holdings and denials it is joined with are read once
into small per-(user, target) indexes. With overlapping grants several grants share one change:
the membership added for the first and removed after the last.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.activity.digest import GrantActivity
from bridge.model import as_utc
from bridge.report.index import Hold, LedgerIndex
from bridge.report.names import Names
from bridge.report.query import ReportQuery
from bridge.store import ReportReader


# Not frozen: a frozen dataclass sets each of its forty fields through object.__setattr__,
# which made building the rows of a large report three times slower. Nothing changes a row.
@dataclass(slots=True)
class GrantRow:
    grant_id: int
    user: str
    ic_user_id: str
    principal_id: str
    mapping: str
    entra_group_id: str | None
    target_kind: str
    target: str
    ic_group_id: str | None
    account_id: str | None
    permission_set_arn: str | None
    source_instance_id: str
    justification: str | None
    ticket: str | None
    ticket_system: str | None
    approver: str | None
    activated_at: datetime
    scheduled_end: datetime | None
    seen_at: datetime
    provisioned_at: datetime | None
    extended_count: int
    state: str
    ended_at: datetime | None
    end_requested_at: datetime | None
    end_reason: str | None
    end_note: str | None  # who ended it and why, when a person did (`pim-bridge revoke`)
    revoked_at: datetime | None
    continued_by: str | None
    still_held: bool
    revoke_failures: int
    revoke_error: str | None
    denial_status: str | None
    denial_applied_at: datetime | None
    denial_pruned_at: datetime | None
    activation_to_access_s: float | None
    end_to_revoked_s: float | None
    scim_lag_s: float | None
    scim_removal_lag_s: float | None
    anomalies: tuple[str, ...] = ()
    activity: GrantActivity | None = None  # with `report --activity` (bridge/report/activity.py)


def row_matches(row: GrantRow, query: ReportQuery) -> bool:
    if not query.user_matches(row.user, row.ic_user_id, row.principal_id):
        return False
    if query.groups:
        wanted = set(query.groups)
        names = {row.entra_group_id, row.ic_group_id}
        if row.target_kind == "group":
            names.add(row.target)
        if not wanted & names:
            return False
    return True


def iter_rows(
    reader: ReportReader, query: ReportQuery, names: Names, index: LedgerIndex | None = None
) -> Iterator[GrantRow]:
    """Rows in order of activation, streamed from the grants table."""
    index = index or LedgerIndex.read(reader)
    for g in reader.grants_with_lags(query):
        row = build_row(g, query, names, index)
        if row_matches(row, query):
            yield row


@dataclass(slots=True)
class _Access:
    """What the ledger shows of one grant's access: the stretch of holding that gave it, and,
    once PIM ended the grant, whether another grant carried it on or it was revoked."""

    activated: datetime
    seen: datetime
    ended: datetime | None
    end_requested: datetime | None  # PIM's own time of a deactivation request
    hold: Hold | None
    continued_by: str | None
    revoked: datetime | None
    still_held: bool
    failures: int

    @property
    def provisioned(self) -> datetime | None:
        return self.hold.start if self.hold else None

    @property
    def revoke_error(self) -> str | None:
        return self.hold.last_error if self.failures and self.hold else None

    @property
    def activation_to_access_s(self) -> float | None:
        if self.provisioned is None:
            return None
        # Access already held through another grant counts as immediate.
        return max(0.0, (self.provisioned - self.activated).total_seconds())

    @property
    def end(self) -> datetime | None:
        """When access should have gone: PIM's deactivation request when Graph listed it,
        else the recorded end (PIM's expiry, or the deactivation the bridge saw)."""
        return self.end_requested or self.ended

    @property
    def end_to_revoked_s(self) -> float | None:
        if self.revoked is None or self.end is None:
            return None
        return (self.revoked - self.end).total_seconds()


def _access(grant: Any, idx: LedgerIndex) -> _Access:
    binding = (grant.ic_user_id, grant.target_key)
    seen: datetime = as_utc(grant.first_seen)
    ended = as_utc(grant.ended_at) if grant.state == "ended" else None
    requested = as_utc(grant.end_requested_at) if ended is not None else None
    hold = idx.holds.hold_for(binding, seen)
    continued = idx.spans.continued_by(binding, grant.id, ended) if ended else None
    revoked = hold.end if hold and ended and continued is None else None
    still_held = (
        ended is not None
        and continued is None
        and revoked is None
        and binding in idx.held_now
        and hold is not None
    )
    return _Access(
        activated=as_utc(grant.not_before),
        seen=seen,
        ended=ended,
        end_requested=requested,
        hold=hold,
        continued_by=continued,
        revoked=revoked,
        still_held=still_held,
        failures=hold.failed_removes if hold and continued is None else 0,
    )


def _anomalies(access: _Access, end_reason: str | None, query: ReportQuery) -> tuple[str, ...]:
    found: list[str] = []
    target = query.target_for(end_reason)
    revoke_s = access.end_to_revoked_s
    late = revoke_s is not None and revoke_s > target.total_seconds()
    lingering = access.still_held and access.end is not None and query.now - access.end > target
    if late or lingering:
        found.append("outlived_end")
    if access.failures:
        found.append("revocation_failed")
    return tuple(found)


def build_row(grant: Any, query: ReportQuery, names: Names, idx: LedgerIndex) -> GrantRow:
    target = names.target(grant.mapping, grant.target_key)
    access = _access(grant, idx)
    end_reason = grant.end_reason if access.ended else None
    denial = idx.denials.denial_for(
        grant.ic_user_id, access.revoked, target.account_id, target.permission_set_arn
    )
    return GrantRow(
        grant_id=grant.id,
        user=grant.user_name,
        ic_user_id=grant.ic_user_id,
        principal_id=grant.principal_id,
        mapping=grant.mapping,
        entra_group_id=names.entra_group_of.get(grant.mapping),
        target_kind=target.kind,
        target=target.label,
        ic_group_id=target.ic_group_id,
        account_id=target.account_id,
        permission_set_arn=target.permission_set_arn,
        source_instance_id=grant.source_instance_id,
        justification=grant.justification,
        ticket=grant.ticket,
        ticket_system=grant.ticket_system,
        approver=grant.approver,
        activated_at=access.activated,
        scheduled_end=as_utc(grant.not_after),
        seen_at=access.seen,
        provisioned_at=access.provisioned,
        extended_count=grant.extended_count or 0,
        state=grant.state,
        ended_at=access.ended,
        end_requested_at=access.end_requested,
        end_reason=end_reason,
        end_note=_end_note(grant) if access.ended else None,
        revoked_at=access.revoked,
        continued_by=access.continued_by,
        still_held=access.still_held,
        revoke_failures=access.failures,
        revoke_error=access.revoke_error,
        denial_status=denial.status if denial else None,
        denial_applied_at=denial.done_at if denial else None,
        denial_pruned_at=denial.pruned_at if denial else None,
        activation_to_access_s=access.activation_to_access_s,
        end_to_revoked_s=access.end_to_revoked_s,
        scim_lag_s=_lag(grant.add_pim_at, grant.add_scim_at),
        scim_removal_lag_s=_lag(grant.remove_pim_at, grant.remove_scim_at),
        anomalies=_anomalies(access, end_reason, query),
    )


def _lag(pim_at: datetime | None, scim_at: datetime | None) -> float | None:
    """Seconds from the PIM change to SCIM's export of it: Entra's own provisioning lag."""
    # Both come back naive from SQLite or aware from PostgreSQL, never mixed within a row.
    return None if pim_at is None or scim_at is None else (scim_at - pim_at).total_seconds()


def _end_note(grant: Any) -> str | None:
    if not grant.ended_by:
        return None
    return f"by {grant.ended_by}: {grant.end_note}" if grant.end_note else f"by {grant.ended_by}"
