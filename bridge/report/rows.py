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
from typing import Any, NamedTuple, cast

from bridge.activity.digest import GrantActivity
from bridge.report.index import Binding, Denial, LedgerIndex, instant, moment
from bridge.report.names import Names, Target
from bridge.report.query import ReportQuery
from bridge.store import ReportReader
from bridge.store.report_times import EPOCH, MICRO, OPEN, DriverTimes


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
    build = RowBuilder(query, names, index or LedgerIndex.read(reader), reader.times)
    rows = map(build, reader.grants_with_lags(query))
    if not query.users and not query.groups:
        return rows  # the usual whole report: nothing left for Python to filter
    return (row for row in rows if row_matches(row, query))


class _Access(NamedTuple):
    """What the ledger shows of one grant's access: the stretch of holding that gave it
    (-1: none), and, once PIM ended the grant, whether another grant carried it on or it was
    revoked (microseconds, OPEN while not)."""

    hold: int
    continued_by: str | None
    revoked: int
    still_held: bool
    failures: int


class RowBuilder:
    """Each grant's row from its record (times as the driver hands them) and the indexes; what
    every row needs is looked up once."""

    def __init__(
        self, query: ReportQuery, names: Names, index: LedgerIndex, times: DriverTimes
    ) -> None:
        self.query = query
        self.names = names
        self.holds, self.spans, self.denials = index.holds, index.spans, index.denials
        self.held_now = index.held_now
        self.utc = times.utc

    def access(self, binding: Binding, grant_id: int, seen: int, ended: int) -> _Access:
        """`seen`, `ended`: microseconds (`ended` OPEN for a grant not ended)."""
        holds = self.holds
        hold = holds.hold_for(binding, seen)
        continued = self.spans.continued_by(binding, grant_id, ended) if ended != OPEN else None
        kept = hold >= 0 and continued is None
        revoked = holds.end[hold] if kept and ended != OPEN else OPEN
        still_held = kept and ended != OPEN and revoked == OPEN and binding in self.held_now
        return _Access(hold, continued, revoked, still_held, holds.failures[hold] if kept else 0)

    def __call__(self, grant: Any) -> GrantRow:
        utc = self.utc
        target = self.names.target(grant.mapping, grant.target_key)
        activated = cast(datetime, utc(grant.not_before))
        seen = cast(datetime, utc(grant.first_seen))
        ended = utc(grant.ended_at) if grant.state == "ended" else None
        requested = utc(grant.end_requested_at) if ended is not None else None
        a = self.access((grant.ic_user_id, grant.target_key), grant.id, micros(seen), micros(ended))
        provisioned = instant(self.holds.start[a.hold]) if a.hold >= 0 else None
        revoked = moment(a.revoked)
        end = requested or ended  # PIM's deactivation request when Graph listed it
        revoke_s = None if revoked is None or end is None else (revoked - end).total_seconds()
        denial = self._denial(grant.ic_user_id, a.revoked, target) if revoked else None
        end_reason = grant.end_reason if ended else None
        return GrantRow(
            grant_id=grant.id,
            user=grant.user_name,
            ic_user_id=grant.ic_user_id,
            principal_id=grant.principal_id,
            mapping=grant.mapping,
            entra_group_id=self.names.entra_group_of.get(grant.mapping),
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
            activated_at=activated,
            scheduled_end=utc(grant.not_after),
            seen_at=seen,
            provisioned_at=provisioned,
            extended_count=grant.extended_count or 0,
            state=grant.state,
            ended_at=ended,
            end_requested_at=requested,
            end_reason=end_reason,
            end_note=_end_note(grant) if ended else None,
            revoked_at=revoked,
            continued_by=a.continued_by,
            still_held=a.still_held,
            revoke_failures=a.failures,
            revoke_error=self.holds.errors.get(a.hold) if a.failures else None,
            denial_status=denial.status if denial else None,
            denial_applied_at=denial.done_at if denial else None,
            denial_pruned_at=denial.pruned_at if denial else None,
            activation_to_access_s=_access_s(activated, provisioned),
            end_to_revoked_s=revoke_s,
            scim_lag_s=self._lag(grant.add_pim_at, grant.add_scim_at),
            scim_removal_lag_s=self._lag(grant.remove_pim_at, grant.remove_scim_at),
            anomalies=self._anomalies(a, end, revoke_s, end_reason),
        )

    def _denial(self, user: str, revoked: int, target: Target) -> Denial | None:
        return self.denials.denial_for(user, revoked, target.account_id, target.permission_set_arn)

    def _anomalies(
        self, a: _Access, end: datetime | None, revoke_s: float | None, end_reason: str | None
    ) -> tuple[str, ...]:
        if revoke_s is None and not a.still_held and not a.failures:
            return ()  # the usual row: nothing that could be late or failing
        found: list[str] = []
        query = self.query
        target = query.target_for(end_reason)
        late = revoke_s is not None and revoke_s > target.total_seconds()
        lingering = a.still_held and end is not None and query.now - end > target
        if late or lingering:
            found.append("outlived_end")
        if a.failures:
            found.append("revocation_failed")
        return tuple(found)

    def _lag(self, pim_at: Any, scim_at: Any) -> float | None:
        """Seconds from the PIM change to SCIM's export of it: Entra's own provisioning lag."""
        if pim_at is None or scim_at is None:
            return None
        return (
            cast(datetime, self.utc(scim_at)) - cast(datetime, self.utc(pim_at))
        ).total_seconds()


def _access_s(activated: datetime, provisioned: datetime | None) -> float | None:
    # Access already held through another grant counts as immediate.
    return None if provisioned is None else max(0.0, (provisioned - activated).total_seconds())


def micros(when: datetime | None) -> int:
    """An aware moment as whole microseconds since the epoch (exact); OPEN for none."""
    return OPEN if when is None else (when - EPOCH) // MICRO


def _end_note(grant: Any) -> str | None:
    if not grant.ended_by:
        return None
    return f"by {grant.ended_by}: {grant.end_note}" if grant.end_note else f"by {grant.ended_by}"
