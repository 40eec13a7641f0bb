"""The three promises every fault scenario checks, read from the ledger and from Identity Center
(through boto3), never from the bridge's memory:

1. no grant lives more than 2 s past its end;
2. no removal that was not meant: nothing removed while a grant still covered it, and drift
   removed only where the mapping says `drift = "remove"`;
3. the ledger tells the truth: no intent left without an outcome, and what it says the bridge
   holds is exactly what Identity Center has (apart from members the bridge did not add).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from bridge.model import Binding, as_utc
from bridge.schema import changes, grants, holdings

GRACE = timedelta(seconds=2)


def _rows(engine: Engine, table: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(table)).all())


def overdue(engine: Engine, present: Iterable[Binding], now: datetime) -> list[str]:
    """Bindings still in Identity Center although every grant the ledger knows for them ended
    more than 2 s ago (by the grants' own recorded ends). Pass only what the bridge owns: a
    member someone else added (drift left in place by `drift = "report"`) is not a grant."""
    last_end: dict[Binding, datetime | None] = {}
    for g in _rows(engine, grants):
        b = Binding.of(g.ic_user_id, g.target_key)
        end = as_utc(g.not_after)
        if b in last_end and last_end[b] is None:
            continue
        last_end[b] = None if end is None else max(end, last_end.get(b) or end)
    out = []
    for b in present:
        end = last_end.get(b)
        if b in last_end and end is not None and now - end > GRACE:
            out.append(f"{b.ic_user_id} on {b.target_key}: {(now - end).total_seconds():.1f}s")
    return out


def unmeant_removals(engine: Engine, drift_remove: Iterable[str] = ()) -> list[str]:
    """Removals made while a grant still covered the binding, or drift removals on a target
    whose mappings do not all say `drift = "remove"`."""
    covered: dict[Binding, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    for g in _rows(engine, grants):
        # A grant covers its binding from its start until its end, or until PIM ended it early.
        stop = as_utc(g.not_after)
        if g.state == "ended" and g.ended_at is not None:
            ended = as_utc(g.ended_at)
            stop = ended if stop is None else min(stop, ended)  # type: ignore[type-var]
        covered[Binding.of(g.ic_user_id, g.target_key)].append((as_utc(g.not_before), stop))  # type: ignore[arg-type]
    allowed_drift = set(drift_remove)
    out = []
    for c in _rows(engine, changes):
        if c.op != "remove" or c.status == "failed":
            continue
        at = as_utc(c.intent_at)
        assert at is not None
        b = Binding.of(c.ic_user_id, c.target_key)
        if c.reason == "drift":
            if b.target_key not in allowed_drift:
                out.append(f"drift removal of {b} on a report-only target")
            continue
        for start, stop in covered.get(b, []):
            if start <= at and (stop is None or at < stop):
                out.append(f"{c.reason} removal of {b} at {at} inside a grant {start}..{stop}")
    return out


def untruths(engine: Engine, present: set[Binding], foreign: Iterable[Binding] = ()) -> list[str]:
    """Where the ledger and Identity Center disagree about what the bridge holds."""
    out = [
        f"change {c.id} ({c.op} {c.ic_user_id} {c.target_key}) has an intent and no outcome"
        for c in _rows(engine, changes)
        if c.status == "intent"
    ]
    held = {Binding.of(h.ic_user_id, h.target_key): h.state for h in _rows(engine, holdings)}
    for b, state in held.items():
        if b not in present:
            out.append(f"ledger holds {b} ({state}) but Identity Center does not")
    for b in present - set(foreign) - held.keys():
        out.append(f"Identity Center has {b}, which the ledger does not know it added")
    return out


def check_all(
    engine: Engine,
    present: set[Binding],
    now: datetime,
    *,
    drift_remove: Iterable[str] = (),
    foreign: Iterable[Binding] = (),
) -> int:
    foreign = set(foreign)
    """Assert all three promises; returns how many individual checks ran (for the report)."""
    late = overdue(engine, present - set(foreign), now)
    assert not late, f"grants outlived their end by more than 2 s: {late}"
    wrong = unmeant_removals(engine, drift_remove)
    assert not wrong, f"removals that were not meant: {wrong}"
    lies = untruths(engine, present, foreign)
    assert not lies, f"the ledger does not tell the truth: {lies}"
    return 3
