"""Writing the plan's verdicts about PIM's grants into the grants table, inside the caller's
fenced transaction. Tens of thousands of grants are seen every poll: rows are written in
batches, not one statement per row, which keeps a no-change poll at a few hundred ms."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection

from bridge.model import AUDIT_DETAILS, Ended, Grant, GrantVerdicts, Moved, as_utc
from bridge.schema import grants
from bridge.store.engine import chunks

GrantKey = tuple[str, str, str, str]  # (mapping, PIM instance id, principal id, target key)


def write_verdicts(conn: Connection, verdicts: GrantVerdicts, now: datetime) -> None:
    rows = _live_rows(conn)
    _touch(conn, [rows[k].id for k in map(_grant_key, verdicts.seen) if k in rows], now)
    _move(conn, rows, verdicts.moved, now)
    _end(conn, rows, verdicts.ended)
    fresh = {_grant_key(g): g for g in verdicts.new}
    if fresh:
        _record_new(conn, fresh, now)


class _Live(NamedTuple):
    """What writing a verdict needs of a live grant's row."""

    id: int
    not_after: datetime | None
    extended_count: int


def _live_rows(conn: Connection) -> dict[GrantKey, _Live]:
    """Every live grant's row by its key. Tens of thousands of rows: each kept as the little
    written from it, under a key whose strings the rows sharing them share."""
    q = select(
        grants.c.id,
        grants.c.mapping,
        grants.c.source_instance_id,
        grants.c.principal_id,
        grants.c.target_key,
        grants.c.not_after,
        grants.c.extended_count,
    ).where(grants.c.state == "live")
    shared: dict[str, str] = {}
    out: dict[GrantKey, _Live] = {}
    for r in conn.execute(q):
        key = _row_key(r)
        mapping, instance, principal, target = map(shared.setdefault, key, key)
        out[(mapping, instance, principal, target)] = _Live(r.id, r.not_after, r.extended_count)
    return out


def _touch(conn: Connection, row_ids: list[int], now: datetime) -> None:
    for chunk in chunks(row_ids):
        conn.execute(update(grants).where(grants.c.id.in_(chunk)).values(last_seen=now))


def _move(
    conn: Connection, rows: Mapping[GrantKey, _Live], moved: Iterable[Moved], now: datetime
) -> None:
    """One statement per set of columns written, for all the grants that write them: a
    request's ticket system first read for every grant of the tenant is one statement, not
    tens of thousands."""
    writes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for m in moved:
        row = rows.get(_grant_key(m.grant))
        if row is None:
            continue
        values = {c: getattr(m.grant, c) for c in AUDIT_DETAILS}
        values = {c: v for c, v in values.items() if v}
        if as_utc(row.not_after) != m.grant.not_after:
            values.update(not_after=m.grant.not_after, extended_count=row.extended_count + 1)
        writes[tuple(values)].append({"row_id": row.id, **{f"v_{c}": v for c, v in values.items()}})
    for columns, params in writes.items():
        # Bound names must differ from column names in an UPDATE's SET clause.
        sets = {**{c: bindparam(f"v_{c}") for c in columns}, "last_seen": now}
        statement = update(grants).where(grants.c.id == bindparam("row_id")).values(sets)
        for chunk in chunks(params):  # a few hundred rows' values at a time, not the tenant's
            conn.execute(statement, chunk)


def _end(conn: Connection, rows: Mapping[GrantKey, _Live], ended: Iterable[Ended]) -> None:
    params = [
        {"row_id": rows[k].id, "at": e.at, "asked": e.requested_at, "why": str(e.reason)}
        for e in ended
        if (k := _grant_key(e.grant)) in rows
    ]
    if params:
        conn.execute(
            update(grants)
            .where(grants.c.id == bindparam("row_id"))
            .values(
                state="ended",
                ended_at=bindparam("at"),
                end_requested_at=bindparam("asked"),
                end_reason=bindparam("why"),
            ),
            params,
        )


def _record_new(conn: Connection, fresh: dict[GrantKey, Grant], now: datetime) -> None:
    """Insert grants first seen now; a grant that ended and is listed again is revived in
    its own row (same mapping, instance and target)."""
    old = _known_rows(conn, sorted({g.source_instance_id for g in fresh.values()}))
    revived = {key: g for key, g in fresh.items() if key in old}
    if revived:
        _revive(conn, revived, old, now)
    inserts = [
        {
            **_grant_values(g),
            "first_seen": now,
            "last_seen": now,
            "extended_count": 0,
            "state": "live",
        }
        for key, g in fresh.items()
        if key not in old
    ]
    if inserts:
        conn.execute(insert(grants), inserts)


def _known_rows(conn: Connection, instance_ids: list[str]) -> dict[GrantKey, int]:
    """Row ids of every grant, live or ended, of these PIM instances."""
    old: dict[GrantKey, int] = {}
    for chunk in chunks(instance_ids):
        for r in conn.execute(
            select(
                grants.c.id,
                grants.c.mapping,
                grants.c.source_instance_id,
                grants.c.principal_id,
                grants.c.target_key,
            ).where(grants.c.source_instance_id.in_(chunk))
        ):
            old[_row_key(r)] = r.id
    return old


def _revive(
    conn: Connection, revived: dict[GrantKey, Grant], old: dict[GrantKey, int], now: datetime
) -> None:
    # Bound names must differ from column names in an UPDATE's SET clause.
    params = [
        {"row_id": old[key], **{f"v_{c}": v for c, v in _grant_values(g).items()}}
        for key, g in revived.items()
    ]
    columns = _grant_values(next(iter(revived.values())))
    conn.execute(
        update(grants)
        .where(grants.c.id == bindparam("row_id"))
        .values(
            {
                **{c: bindparam(f"v_{c}") for c in columns},
                "last_seen": now,
                "state": "live",
                "ended_at": None,
                "end_requested_at": None,
                "end_reason": None,
                "ended_by": None,
                "end_note": None,
            }
        ),
        params,
    )


def _grant_key(grant: Grant) -> GrantKey:
    return (grant.mapping, grant.source_instance_id, grant.user.principal_id, grant.target.key)


def _row_key(r: Any) -> GrantKey:
    return (r.mapping, r.source_instance_id, r.principal_id, r.target_key)


def _grant_values(grant: Grant) -> dict[str, Any]:
    return {
        "mapping": grant.mapping,
        "source_instance_id": grant.source_instance_id,
        "target_key": grant.target.key,
        "principal_id": grant.user.principal_id,
        "user_name": grant.user.name,
        "ic_user_id": grant.user.ic_user_id,
        "not_before": grant.not_before,
        "not_after": grant.not_after,
        "justification": grant.justification,
        "ticket": grant.ticket,
        "ticket_system": grant.ticket_system,
        "approver": grant.approver,
    }
