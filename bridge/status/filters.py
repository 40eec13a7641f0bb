"""`status --user` and `--mapping`: which rows are shown, and whether a filter names anything
the ledger or the config knows (one that matches nothing is a mistake worth saying so)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.status.rows import Status


@dataclass(frozen=True)
class StatusFilter:
    user: str | None = None  # a UPN, its name before @, or an Identity Center user id
    mapping: str | None = None
    user_ids: frozenset[str] = frozenset()  # the Identity Center ids `user` matched

    def matches_user(self, name: str) -> bool:
        if self.user is None:
            return True
        want, have = self.user.lower(), name.lower()
        return have == want or ("@" not in want and have.startswith(f"{want}@"))

    def resolve(self, users: dict[str, str]) -> StatusFilter:
        """With the ids of the users `user` names (`users`: id -> name)."""
        if self.user is None:
            return self
        ids = {i for i, name in users.items() if i == self.user or self.matches_user(name)}
        return replace(self, user_ids=frozenset(ids))

    def unknown(self, users: dict[str, str], mappings: Iterable[str]) -> str | None:
        """Why this filter matches nothing the ledger or config knows, or None."""
        if self.mapping is not None and self.mapping not in set(mappings):
            return f"no mapping {self.mapping!r} in the config or the ledger"
        if self.user is not None and not self.resolve(users).user_ids:
            return f"no user {self.user!r} in the ledger"
        return None

    def apply(self, status: Status) -> Status:
        holders = [r for r in status.holders if self._ok(r.user, r.mapping)]
        orphans = [r for r in status.orphans if self._ok(r.user, r.mapping)]
        pending = [r for r in status.pending if self._ok(r.user, r.mapping)]
        # A denial names no mapping: under --mapping, those of the users it shows.
        shown = {r.user for r in holders + orphans} | {r.user for r in pending}
        return replace(
            status,
            holders=holders,
            orphans=orphans,
            pending=pending,
            denials=[
                d
                for d in status.denials
                if self._user_ok(d.user) and (self.mapping is None or d.user in shown)
            ],
            blocked=None
            if status.blocked is None
            else [b for b in status.blocked if self._user_ok(b.user)],
        )

    def _ok(self, user: str, mapping: str | None) -> bool:
        return self._user_ok(user) and (self.mapping is None or mapping == self.mapping)

    def _user_ok(self, name: str) -> bool:
        return self.matches_user(name) or name in self.user_ids
