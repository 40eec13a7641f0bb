"""Which grant a call belongs to.

A call belongs to the grant that issued its session: the user's grant of that permission set in
that account whose window held the session's creation time. A session issued after a grant
ended, while no other grant of the same access was live, is counted against the grant that
ended last (within `after_end`): it should not have been possible. Grants of the same access
that overlap form one stretch of access; "after the end" means after the stretch's end, since
until then another grant rightly kept the access.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.activity.callers import Call

# CloudTrail's creationDate has whole seconds; the ledger's times have fractions.
SKEW = timedelta(seconds=1)
# `used_after_end`: a call that succeeded more than this after the end (the bridge's promise).
GRACE = timedelta(seconds=2)

Key = tuple[str, str, str]  # (account, permission set name lower-cased, user)


@dataclass(frozen=True, slots=True)
class GrantWindow:
    """One grant's access to one permission set in one account."""

    grant_id: int
    ic_user_id: str
    user_name: str  # the Identity Center user name: the role session's name
    account_id: str
    permission_set: str  # its name
    start: datetime
    end: datetime | None  # None: live with no end


@dataclass(frozen=True, slots=True)
class Attribution:
    grant_ids: tuple[int, ...]
    end: datetime | None  # the end of the stretch of access the session belongs to

    def after_end(self, call: Call) -> bool:
        """At or after the end's second: CloudTrail's eventTime has whole seconds, and a denial
        is in force from the end's second."""
        return self.end is not None and call.at >= self.end.replace(microsecond=0)

    def used_after_end(self, call: Call) -> bool:
        return self.end is not None and call.error is None and call.at > self.end + GRACE


@dataclass
class _Stretch:
    start: datetime
    end: datetime | None
    windows: list[GrantWindow]
    # A stretch of one grant (most are): the attribution of every session issued within it.
    whole: Attribution | None = None


class GrantIndex:
    def __init__(self, windows: Iterable[GrantWindow], after_end: timedelta) -> None:
        self.after_end = after_end
        by_key: dict[Key, list[GrantWindow]] = defaultdict(list)
        for w in windows:
            ps = w.permission_set.lower()
            by_key[(w.account_id, ps, w.user_name.lower())].append(w)
            by_key[(w.account_id, ps, w.ic_user_id)].append(w)
            by_key[("", "", w.ic_user_id)].append(w)
        self._stretches = {key: _stretches(ws) for key, ws in by_key.items()}
        self._starts = {key: [s.start for s in ss] for key, ss in self._stretches.items()}

    def attribute(self, call: Call) -> Attribution | None:
        """The grants whose access made `call`; None when no grant did."""
        for key in _keys(call):
            stretches = self._stretches.get(key)
            if stretches is not None:
                found = self._find(key, stretches, call.issued_at or call.at)
                if found is not None:
                    return found
        return None

    def _find(
        self, key: Key, stretches: Sequence[_Stretch], issued: datetime
    ) -> Attribution | None:
        i = bisect.bisect_right(self._starts[key], issued + SKEW) - 1
        if i < 0:
            return None
        s = stretches[i]
        if s.end is not None and issued > s.end + SKEW:
            # Issued after the access ended: the stretch's last grant, if recently enough.
            if issued > s.end + self.after_end:
                return None
            return Attribution((_last_ended(s.windows).grant_id,), s.end)
        if s.whole is not None:
            return s.whole
        ids = tuple(
            sorted(
                {
                    w.grant_id
                    for w in s.windows
                    if w.start - SKEW <= issued and (w.end is None or issued <= w.end + SKEW)
                }
            )
        )
        return Attribution(ids, s.end) if ids else None


def _last_ended(windows: Sequence[GrantWindow]) -> GrantWindow:
    last = windows[0]
    for w in windows[1:]:
        if w.end is not None and (last.end is None or w.end > last.end):
            last = w
    return last


def _keys(call: Call) -> list[Key]:
    keys: list[Key] = []
    if call.permission_set is not None:
        ps = call.permission_set.lower()
        if call.user_id:
            keys.append((call.account_id, ps, call.user_id))
        if call.session_name:
            keys.append((call.account_id, ps, call.session_name))
    elif call.user_id:
        # A call on the user's behalf without a role session: any grant of theirs.
        keys.append(("", "", call.user_id))
    return keys


def _stretches(windows: list[GrantWindow]) -> list[_Stretch]:
    """Windows of one key joined where they overlap, in order of start."""
    out: list[_Stretch] = []
    for w in sorted(windows, key=lambda w: w.start):
        last = out[-1] if out else None
        # Only a grant live at the other's end keeps the access (`continued_by` in the
        # report): one that starts after it comes after a revocation.
        if last is not None and (last.end is None or w.start <= last.end):
            last.windows.append(w)
            if last.end is not None:
                last.end = None if w.end is None else max(last.end, w.end)
        else:
            out.append(_Stretch(w.start, w.end, [w]))
    for s in out:
        if len({w.grant_id for w in s.windows}) == 1:
            s.whole = Attribution((s.windows[0].grant_id,), s.end)
    return out
