"""One row per grant, built from the ledger: who held what, from when to when, on whose approval,
and whether access was really gone when PIM said it ended.

The grants table is streamed; the changes, holdings and denials it is joined with are read once
into small per-(user, target) indexes. With overlapping grants several grants share one change:
the membership added for the first and removed after the last.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bridge.activity.digest import GrantActivity
from bridge.model import as_utc
from bridge.report.lag import LagIndex, read_lags
from bridge.report.names import Names
from bridge.report.query import ReportQuery
from bridge.store import ReportReader

# A denial is written after the removals of its cycle; one further away belongs to another.
DENIAL_WINDOW = timedelta(minutes=10)
SKEW = timedelta(seconds=1)

Binding = tuple[str, str]  # (ic_user_id, target_key)


@dataclass(frozen=True, slots=True)
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


@dataclass
class _Hold:
    """One stretch during which the bridge held a (user, target) in Identity Center."""

    start: datetime
    end: datetime | None = None
    failed_removes: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class _Span:
    grant_id: int
    mapping: str
    start: datetime
    end: datetime | None  # None: still live with no end


@dataclass(frozen=True, slots=True)
class _Denial:
    at: datetime
    permission_set_arn: str
    accounts: tuple[str, ...]
    status: str
    done_at: datetime | None
    pruned_at: datetime | None


@dataclass
class LedgerIndex:
    holds: dict[Binding, list[_Hold]] = field(default_factory=dict)
    spans: dict[Binding, list[_Span]] = field(default_factory=dict)
    held_now: set[Binding] = field(default_factory=set)
    denials: dict[str, list[_Denial]] = field(default_factory=dict)
    lags: LagIndex = field(default_factory=LagIndex)

    @classmethod
    def read(cls, reader: ReportReader) -> LedgerIndex:
        return cls(
            holds=_holds(reader),
            spans=_spans(reader),
            held_now=reader.held(),
            denials=_denials(reader),
            lags=read_lags(reader),
        )


def _holds(reader: ReportReader) -> dict[Binding, list[_Hold]]:
    holds: dict[Binding, list[_Hold]] = defaultdict(list)
    for op, status, uid, key, error, outcome_at in reader.changes():
        stretch = holds[(uid, key)]
        current = stretch[-1] if stretch and stretch[-1].end is None else None
        if op == "add":
            if status == "ok" and current is None:
                stretch.append(_Hold(as_utc(outcome_at)))
        elif current is not None:
            if status == "ok":
                current.end = as_utc(outcome_at)
            else:  # failed, or interrupted by a stop: both mean another attempt was needed
                current.failed_removes += 1
                current.last_error = error or status
    return dict(holds)


def _spans(reader: ReportReader) -> dict[Binding, list[_Span]]:
    spans: dict[Binding, list[_Span]] = defaultdict(list)
    for gid, uid, key, mapping, start, ended, not_after in reader.grant_spans():
        spans[(uid, key)].append(_Span(gid, mapping, as_utc(start), as_utc(ended or not_after)))
    return dict(spans)


def _denials(reader: ReportReader) -> dict[str, list[_Denial]]:
    found: dict[str, list[_Denial]] = defaultdict(list)
    for m in reader.denials():
        found[m["ic_user_id"]].append(
            _Denial(
                as_utc(m["at"]),
                m["permission_set_arn"],
                tuple(m["accounts"] or ()),
                m["status"],
                as_utc(m["done_at"]),
                as_utc(m.get("pruned_at")),
            )
        )
    return dict(found)


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
    for g in reader.grants(query):
        row = build_row(g, query, names, index)
        if row_matches(row, query):
            yield row


@dataclass(frozen=True, slots=True)
class _Access:
    """What the ledger shows of one grant's access: the stretch of holding that gave it, and,
    once PIM ended the grant, whether another grant carried it on or it was revoked."""

    activated: datetime
    seen: datetime
    ended: datetime | None
    end_requested: datetime | None  # PIM's own time of a deactivation request
    hold: _Hold | None
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
    hold = _hold_for(idx.holds.get(binding, ()), seen)
    continued = _continued_by(idx.spans.get(binding, ()), grant.id, ended) if ended else None
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
    found = idx.denials.get(grant.ic_user_id, ())
    denial = _denial_for(found, access.revoked, target.account_id, target.permission_set_arn)
    scim_add, scim_remove = idx.lags.lag_for(grant.mapping, grant.source_instance_id)
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
        scim_lag_s=scim_add,
        scim_removal_lag_s=scim_remove,
        anomalies=_anomalies(access, end_reason, query),
    )


def _hold_for(stretches: Iterable[_Hold], seen: datetime) -> _Hold | None:
    """The stretch that gave this grant its access: the first not closed before PIM's grant was
    first seen (the add is written in the same cycle, just after)."""
    for h in stretches:
        if h.end is None or h.end >= seen:
            return h
    return None


def _continued_by(spans: Iterable[_Span], grant_id: int, ended: datetime) -> str | None:
    """Another grant of the same user and target live at this one's end keeps access rightly."""
    for s in spans:
        if s.grant_id == grant_id or s.start > ended:
            continue
        if s.end is None or s.end > ended:
            return f"{s.mapping} (grant {s.grant_id})"
    return None


def _denial_for(
    found: Iterable[_Denial], revoked: datetime | None, account: str | None, ps_arn: str | None
) -> _Denial | None:
    """The denial written for a revocation: none where access was not revoked."""
    if revoked is None:
        return None
    for d in found:
        if d.at < revoked - SKEW or d.at > revoked + DENIAL_WINDOW:
            continue
        if d.status == "disarmed":  # an armed denial withdrawn: the end it awaited never came
            continue
        # A group membership gives access through every permission set assigned to the group.
        if ps_arn is not None and (d.permission_set_arn != ps_arn or account not in d.accounts):
            continue
        return d
    return None


def _end_note(grant: Any) -> str | None:
    if not grant.ended_by:
        return None
    return f"by {grant.ended_by}: {grant.end_note}" if grant.end_note else f"by {grant.ended_by}"
