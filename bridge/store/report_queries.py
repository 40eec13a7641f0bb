"""The audit report's reads (bridge/report/): the grants streamed in order of activation, and
the changes, holdings, denials, lag samples and findings read once beside them."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import ColumnElement, DateTime, and_, func, inspect, null, or_, select, type_coerce
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.types import NullType

from bridge.activity.digest import GrantActivity, ScanTotals
from bridge.schema import (
    activity_digests,
    changes,
    denials,
    findings,
    grants,
    holdings,
    lag_samples,
)
from bridge.store.activity import read_activity, read_totals
from bridge.store.engine import AnyRow
from bridge.store.report_times import DriverTimes


class GrantFilter(Protocol):
    """The filters of a report the database applies (a `ReportQuery` is one)."""

    @property
    def since(self) -> datetime | None: ...
    @property
    def until(self) -> datetime | None: ...
    @property
    def users(self) -> Sequence[str]: ...
    @property
    def mappings(self) -> Sequence[str]: ...
    @property
    def accounts(self) -> Sequence[str]: ...


class ReportReader:
    """Every read on one connection, so the indexes and the streamed grants agree. The large
    reads (changes, spans, denials, grants) give their times raw, as the driver hands them:
    `times` makes them datetimes or microseconds."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.times = DriverTimes.of(conn.dialect.name)

    def changes_by_binding(self) -> Iterator[AnyRow]:
        """(op, status, ic_user_id, target_key, error, outcome_at) of every change, grouped by
        (user, target), each group in the order written."""
        q = select(
            changes.c.op,
            changes.c.status,
            changes.c.ic_user_id,
            changes.c.target_key,
            changes.c.error,
            _raw(changes.c.outcome_at),
        ).order_by(changes.c.ic_user_id, changes.c.target_key, changes.c.id)
        return self._streamed(q)

    def spans_by_binding(self) -> Iterator[AnyRow]:
        """(id, ic_user_id, target_key, mapping, not_before, ended_at, not_after) of every grant,
        grouped by (user, target), each group in the order written."""
        q = select(
            grants.c.id,
            grants.c.ic_user_id,
            grants.c.target_key,
            grants.c.mapping,
            _raw(grants.c.not_before),
            _raw(grants.c.ended_at),
            _raw(grants.c.not_after),
        ).order_by(grants.c.ic_user_id, grants.c.target_key, grants.c.id)
        return self._streamed(q)

    def held(self) -> set[tuple[str, str]]:
        """(ic_user_id, target_key) of every holding now."""
        q = select(holdings.c.ic_user_id, holdings.c.target_key)
        return {(r.ic_user_id, r.target_key) for r in self._conn.execute(q)}

    def denials_by_user(self) -> Iterator[AnyRow]:
        """(ic_user_id, at, permission_set_arn, accounts, status, done_at, pruned_at) of every
        denial, grouped by user, oldest first; pruned_at is null while the ledger records no
        prunes."""
        pruned = denials.c.get("pruned_at")
        q = select(
            denials.c.ic_user_id,
            _raw(denials.c.at),
            denials.c.permission_set_arn,
            denials.c.accounts,
            denials.c.status,
            _raw(denials.c.done_at),
            null().label("pruned_at") if pruned is None else _raw(pruned),
        ).order_by(denials.c.ic_user_id, denials.c.at, denials.c.id)
        return self._streamed(q)

    def _records(self, q: Any) -> Iterator[Any]:
        """`_streamed` as named tuples: a field of a SQLAlchemy row read by name costs some ten
        times a named tuple's, and a report reads twenty-five of each grant's."""
        result = self._cursor(q)
        record = cast(Any, namedtuple)("GrantRecord", list(result.keys()))
        return map(record._make, result)

    def _streamed(self, q: Any) -> Iterator[AnyRow]:
        return iter(self._cursor(q))

    def _cursor(self, q: Any) -> CursorResult[Any]:
        # Five thousand rows at a time: some ten megabytes of grants at most.
        return self._conn.execution_options(stream_results=True, yield_per=5000).execute(q)

    def failed_denials(self, since: datetime | None, until: datetime | None) -> list[AnyRow]:
        """Denials that failed or did not fit, within [since, until]."""
        q = select(denials).where(denials.c.status.in_(("failed", "overflow")))
        if since is not None:
            q = q.where(denials.c.at >= since)
        if until is not None:
            q = q.where(denials.c.at <= until)
        return list(self._conn.execute(q).all())

    def activity(self) -> dict[int, GrantActivity]:
        """Each grant's digest of CloudTrail calls, by grant id; none from an older ledger."""
        if not inspect(self._conn).has_table(activity_digests.name):
            return {}
        return read_activity(self._conn)

    def activity_totals(self) -> ScanTotals:
        """What every finished reading of the trail read and skipped, summed."""
        if not inspect(self._conn).has_table(activity_digests.name):
            return ScanTotals()
        return read_totals(self._conn)

    def count_grants(self, f: GrantFilter) -> int:
        sub = _grant_query(f).order_by(None).subquery()
        return int(self._conn.execute(select(func.count()).select_from(sub)).scalar_one())

    def grants(self, f: GrantFilter) -> Iterator[AnyRow]:
        """Whole grant rows in order of activation, streamed."""
        return self._streamed(_grant_query(f))

    def grants_with_lags(self, f: GrantFilter) -> Iterator[AnyRow]:
        """`grants`, times raw (`times`), each with the SCIM lag samples of its PIM instance
        that have an export time: `add_pim_at`, `add_scim_at` (activation), `remove_pim_at`,
        `remove_scim_at` (removal); null without one, and always from a ledger without the
        samples table."""
        q = _grant_query(f).with_only_columns(
            *(_raw(c) if c.name in _TIMES else c for c in grants.c), maintain_column_froms=True
        )
        if not inspect(self._conn).has_table(lag_samples.name):
            return self._records(q.add_columns(*(null().label(n) for n in _LAG_COLUMNS)))
        for kind, prefix in (("activation", "add"), ("removal", "remove")):
            lag = lag_samples.alias(f"{prefix}_lag")
            q = q.outerjoin(
                lag,
                and_(
                    lag.c.mapping == grants.c.mapping,
                    lag.c.source_instance_id == grants.c.source_instance_id,
                    lag.c.kind == kind,
                    lag.c.scim_at.is_not(None),
                ),
            ).add_columns(
                _raw(lag.c.pim_at).label(f"{prefix}_pim_at"),
                _raw(lag.c.scim_at).label(f"{prefix}_scim_at"),
            )
        return self._records(q)

    def finding_groups(self, f: GrantFilter) -> Iterator[AnyRow]:
        """(kind, mapping, detail, user name, user id, target, first at, last at, count) per
        distinct finding in the window and mappings (findings of no mapping included)."""
        said = (
            findings.c.kind,
            findings.c.mapping,
            findings.c.detail,
            findings.c.user_name,
            findings.c.ic_user_id,
            findings.c.target,
        )
        q = select(*said, func.min(findings.c.at), func.max(findings.c.at), func.count()).group_by(
            *said
        )
        if f.since is not None:
            q = q.where(findings.c.at >= f.since)
        if f.until is not None:
            q = q.where(findings.c.at <= f.until)
        if f.mappings:
            q = q.where(findings.c.mapping.in_(f.mappings) | findings.c.mapping.is_(None))
        return iter(self._conn.execute(q).all())

    def drift_removals(self) -> Iterator[AnyRow]:
        """(ic_user_id, status, outcome_at) of every removal made for drift."""
        q = select(changes.c.ic_user_id, changes.c.status, changes.c.outcome_at).where(
            changes.c.reason == "drift", changes.c.op == "remove"
        )
        return iter(self._conn.execute(q))

    def user_names(self) -> dict[str, str]:
        """Identity Center user id -> the name its grants were matched by."""
        q = select(grants.c.ic_user_id, grants.c.user_name).distinct()
        return {r[0]: r[1] for r in self._conn.execute(q)}


_LAG_COLUMNS = ("add_pim_at", "add_scim_at", "remove_pim_at", "remove_scim_at")
_TIMES = frozenset(c.name for c in grants.c if isinstance(c.type, DateTime))


def _raw(column: Any) -> ColumnElement[Any]:
    """The column as the driver hands it, without SQLAlchemy's processing (the same SQL)."""
    return type_coerce(column, NullType()).label(column.name)


def _literal(text: str) -> str:
    """`text` for a LIKE pattern, matching itself only: `--account %` is not every account."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _grant_query(f: GrantFilter) -> Any:
    """The SQL side of the filters; the report applies the rest (names from the config)."""
    q = select(grants)
    if f.mappings:
        q = q.where(grants.c.mapping.in_(f.mappings))
    if f.accounts:
        q = q.where(
            or_(
                *(
                    grants.c.target_key.like(f"assignment:{_literal(a)}:%", escape="\\")
                    for a in f.accounts
                )
            )
        )
    if f.users:
        low = [u.lower() for u in f.users]
        name = func.lower(grants.c.user_name)
        q = q.where(
            or_(
                name.in_(low),
                grants.c.ic_user_id.in_(f.users),
                grants.c.principal_id.in_(f.users),
                *(name.like(f"{_literal(u)}@%", escape="\\") for u in low if "@" not in u),
            )
        )
    if f.until is not None:
        q = q.where(grants.c.not_before <= f.until)
    if f.since is not None:
        q = q.where(
            or_(
                grants.c.ended_at >= f.since,
                and_(
                    grants.c.ended_at.is_(None),
                    or_(grants.c.not_after.is_(None), grants.c.not_after >= f.since),
                ),
            )
        )
    return q.order_by(grants.c.not_before, grants.c.id)
