"""Ledger rows of grants and holdings as the model's objects.

A full poll reads every live grant and holding again: tens of thousands of rows, in which a
user's ids and name, an instance's id, window and audit details, and a mapping's name repeat
on every target of it. One read's `RowReader` hands out one object for each value that
repeats (a user's `User`, a string, a moment), so the view holds each once, and selects only
the columns the objects are built from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.model import Binding, Grant, User, as_utc, target_from_key
from bridge.schema import grants, holdings

# In the order `RowReader.grant` unpacks them.
GRANT_COLUMNS = (
    grants.c.principal_id,
    grants.c.user_name,
    grants.c.ic_user_id,
    grants.c.target_key,
    grants.c.not_before,
    grants.c.not_after,
    grants.c.source_instance_id,
    grants.c.mapping,
    grants.c.justification,
    grants.c.ticket,
    grants.c.approver,
    grants.c.ticket_system,
)
# In the order `RowReader.holding` unpacks them.
HOLDING_COLUMNS = (
    holdings.c.ic_user_id,
    holdings.c.target_key,
    holdings.c.user_name,
    holdings.c.since,
    holdings.c.state,
    holdings.c.last_error,
)


@dataclass(frozen=True, slots=True)
class Holding:
    binding: Binding
    user_name: str
    since: datetime
    state: str
    last_error: str | None


class RowReader:
    """Builds the objects of one read, sharing each value that repeats across its rows."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._moments: dict[datetime, datetime] = {}
        self._users: dict[tuple[str, str, str], User] = {}

    def grant(self, row: Iterable[Any]) -> Grant:
        """A row of `GRANT_COLUMNS`."""
        principal, name, ic_user, key, start, end, instance, mapping, *audit = row
        user_key = (principal, name, ic_user)
        user = self._users.get(user_key)
        if user is None:
            user = self._users[user_key] = User(*map(self._one, user_key))
        justification, ticket, approver, system = map(self._maybe, audit)
        return Grant(
            user=user,
            target=target_from_key(key),
            not_before=self._utc(start),
            not_after=None if end is None else self._utc(end),
            source_instance_id=self._one(instance),
            mapping=self._one(mapping),
            justification=justification,
            ticket=ticket,
            approver=approver,
            ticket_system=system,
        )

    def holding(self, row: Iterable[Any]) -> Holding:
        """A row of `HOLDING_COLUMNS`."""
        ic_user, key, name, since, state, error = row
        binding = Binding(self._one(ic_user), target_from_key(key))
        return Holding(binding, self._one(name), self._utc(since), self._one(state), error)

    def _one(self, value: str) -> str:
        return self._values.setdefault(value, value)

    def _maybe(self, value: str | None) -> str | None:
        return None if value is None else self._values.setdefault(value, value)

    def _utc(self, moment: datetime) -> datetime:
        known = self._moments.get(moment)
        if known is None:
            known = self._moments[moment] = as_utc(moment)
        return known


def grants_from(rows: Iterable[Iterable[Any]]) -> list[Grant]:
    reader = RowReader()
    return [reader.grant(r) for r in rows]


def holdings_from(rows: Iterable[Iterable[Any]]) -> list[Holding]:
    reader = RowReader()
    return [reader.holding(r) for r in rows]
