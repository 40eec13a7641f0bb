"""What a cycle tells people: its applied and failed changes, held removals, findings and
unplaced denials as `Notice`s, handed to the `Notifier` port after the cycle's writes are done.

A condition (a held brake, an unreadable group, a failing revocation) is told once when it
appears and again only after it has cleared; each kind of cycle says what it still sees, since
an expiry cycle does not read PIM and cannot tell an unreadable group is over."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from bridge.model import Binding, Change, Reason
from bridge.ports import Notice, Notifier
from bridge.reconcile import CycleResult
from bridge.redact import redact

_REVOKED = frozenset({Reason.EXPIRED, Reason.DEACTIVATED, Reason.ORPHANED})
# An expiry removes within seconds of the end; held longer than this, access outlived it.
OUTLIVED_AFTER = timedelta(seconds=60)


class Announcer:
    def __init__(self, notifier: Notifier, labels: Callable[[], Mapping[str, str]]) -> None:
        self._notifier = notifier
        self._labels = labels
        self._lock = threading.Lock()
        self._lasting: dict[str, set[str]] = defaultdict(set)  # cycle kind -> conditions seen

    def after(
        self,
        result: CycleResult,
        now: datetime,
        ends: Mapping[Binding, datetime | None] | None = None,
    ) -> None:
        """Hand this cycle's notices over; conditions already told are left out. `ends`: the
        PIM end of each expired binding this cycle removed."""
        if result.dry_run:
            return
        notices = list(notices_of(result, self._labels(), now, ends or {}))
        with self._lock:
            told = set().union(*self._lasting.values())
            self._lasting[result.kind] = {n.condition for n in notices if n.condition}
        fresh = [n for n in notices if not n.condition or n.condition not in told]
        # Two findings of one condition in one cycle (a brake on poll and drift) are one.
        once = list({(n.condition or str(i)): n for i, n in enumerate(fresh)}.values())
        if once:
            self._notifier.publish(once)


def notices_of(
    result: CycleResult,
    labels: Mapping[str, str],
    now: datetime,
    ends: Mapping[Binding, datetime | None] | None = None,
) -> Iterator[Notice]:
    ends = ends or {}
    for c in result.applied:
        if c.op == "add" and c.reason is Reason.ACTIVATED:
            yield _about(c, "granted", now, labels, f"granted {_until(c)}")
        elif c.op == "remove" and c.reason in _REVOKED:
            yield _about(c, "revoked", now, labels, f"revoked ({c.reason})")
            late = _outlived(c, ends.get(c.binding), now)
            if late is not None:
                why = f"access outlived its end by {late}: removed now"
                yield _outlived_end(_about(c, "outlived_end", now, labels, why), c.binding)
        elif c.op == "remove" and c.reason is Reason.DRIFT:
            yield _about(c, "drift", now, labels, "removed: no PIM basis (drift = remove)")
    for c, error in result.failed:
        if c.op == "remove" and c.reason is Reason.EXPIRED:
            why = f"access outlived its end: the removal failed: {redact(error)}"
            yield _outlived_end(_about(c, "outlived_end", now, labels, why), c.binding)
    for f in result.findings:
        if f.kind == "safety_brake":
            held = ", ".join(c.render(labels) for c in result.held[:5])
            detail = f"{redact(f.detail)}: {held}" if held else redact(f.detail)
            yield Notice("safety_brake", now, detail, condition="safety_brake")
        elif f.kind == "unreadable_group":
            yield Notice(
                "unreadable_group",
                now,
                redact(f.detail),
                mapping=f.mapping,
                condition=f"unreadable_group:{f.mapping}",
            )
        elif f.kind == "drift":
            yield Notice("drift", now, redact(f.detail), condition=f"drift:{f.detail}")
    for problem in result.unplaced:
        yield Notice(
            "denial_overflow", now, redact(problem), condition=f"denial_overflow:{problem}"
        )


def incident_notices(
    removed: Sequence[Change], user: str, why: str, labels: Mapping[str, str], now: datetime
) -> list[Notice]:
    """What an incident's revoke tells: each removal it made, and the block of the user (`why`:
    "by <actor>" and the reason given)."""
    notices = [_about(c, "revoked", now, labels, f"revoked {why}") for c in removed]
    until = f"granted nothing until `pim-bridge unblock --user {user}`"
    notices.append(Notice("blocked", now, f"{user} blocked {why}: {until}", user=user))
    return notices


def _outlived(c: Change, end: datetime | None, now: datetime) -> str | None:
    """How long an expired binding was held past its PIM end, when longer than an expiry's
    own removal takes (OUTLIVED_AFTER): found held late by a drift sweep, a restart, a retry."""
    if c.reason is not Reason.EXPIRED or end is None or now - end < OUTLIVED_AFTER:
        return None
    seconds = int((now - end).total_seconds())
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _outlived_end(notice: Notice, b: Binding) -> Notice:
    """One condition per binding, whether its removal failed or came late: told once."""
    return replace(notice, condition=f"outlived_end:{b.ic_user_id}:{b.target_key}")


def _about(c: Change, event: str, now: datetime, labels: Mapping[str, str], detail: str) -> Notice:
    return Notice(
        event,
        now,
        detail,
        user=c.user_name or c.binding.ic_user_id,
        mapping=c.mapping,
        target=labels.get(c.binding.target_key) or str(c.binding.target),
    )


def _until(c: Change) -> str:
    return "with no end" if c.not_after is None else f"until {c.not_after:%Y-%m-%d %H:%M:%SZ}"
