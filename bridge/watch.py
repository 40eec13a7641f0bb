"""The membership watcher: Graph's group delta says which mapped groups' members changed since
the last look, so only those are read and planned at once, seconds after PIM acted, while the
full poll becomes a slow safety net.

Membership is only a trigger. Entra adds a member when PIM activates and removes one when an
activation ends, but grants and their ends still come from `assignmentScheduleInstances`: a
changed group is read through the PIM reader and planned alone. The groups are watched 50 to
a query (Graph's limit for filtering by id); each query's link is kept in the ledger, so a
restart or a new leader resumes where the last round ended.

What is not known is never taken for "no change": a round that failed names its groups for a
read (where a failed read follows the poll's rules: carried, reported, retried); a changed
group whose read failed is read again. An expired link costs its groups one full read, logged
once. A Graph that offers no delta (403, 404, 501) is said once, and the service polls.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from bridge.ports import Clock, DeltaLinks, DeltaQuery, DeltaRound, MembershipFeed

log = logging.getLogger(__name__)

QUERY_SIZE = 50  # ids in one delta query's $filter, Graph's documented limit
RETRY_READ = 15.0  # seconds before a changed group whose read failed is read again
REPROBE = 600.0  # seconds before a Graph that offered no delta is asked again
# A quiet query's newest link is written down again after this many seconds, so a restart
# resumes near now rather than replaying an old round.
RESAVE = 600.0


@dataclass(frozen=True)
class WatchTick:
    """What one look found: the groups to read now, whether Graph offers delta at all, and
    whether every query was answered (nothing about any group is unknown)."""

    changed: frozenset[str]
    available: bool = True
    complete: bool = False


def query_key(group_ids: Iterable[str]) -> str:
    """A query's name in the ledger: its groups, so a changed mapping starts a new query."""
    return hashlib.sha256("\n".join(sorted(group_ids)).encode()).hexdigest()[:32]


def queries_for(group_ids: Collection[str]) -> list[tuple[str, tuple[str, ...]]]:
    ordered = sorted(set(group_ids))
    chunks = [tuple(ordered[i : i + QUERY_SIZE]) for i in range(0, len(ordered), QUERY_SIZE)]
    return [(query_key(c), c) for c in chunks]


class MembershipWatch:
    """One per process; the service's watch job calls `tick`, then `settled` after the read."""

    def __init__(self, feed: MembershipFeed, links: DeltaLinks, clock: Clock) -> None:
        self._feed = feed
        self._links = links
        self._clock = clock
        self._current: dict[str, str] | None = None  # the newest link per query, in memory
        self._saved: dict[str, float] = {}  # query key -> monotonic time its link was saved
        self._pending: dict[str, float] = {}  # group -> monotonic time to read it again
        self.unavailable: str | None = None  # why Graph offers no delta, while it does not
        self._reprobe_at = 0.0
        self._lock = threading.Lock()

    def status(self) -> dict[str, object]:
        """For /healthz: watching, or why not."""
        if self.unavailable is not None:
            return {"state": "unavailable", "reason": self.unavailable}
        return {"state": "watching", "pending_reads": len(self._pending)}

    def tick(self, group_ids: Collection[str]) -> WatchTick:
        with self._lock:
            now = self._clock.monotonic()
            if self.unavailable is not None and now < self._reprobe_at:
                return WatchTick(frozenset(), available=False)
            queries = self._queries(group_ids)
            rounds = self._feed.rounds(queries)
            rounds = self._resync(queries, rounds)
            refused = [r for r in rounds if r.outcome == "unavailable"]
            if refused:
                return self._unavailable(refused[0], now)
            if self.unavailable is not None:
                log.warning("membership delta answers again: watching the mapped groups")
                self.unavailable = None
            changed = self._take(queries, rounds, now)
            due = {g for g, at in self._pending.items() if at <= now and g in group_ids}
            complete = all(r.outcome == "ok" for r in rounds) and not self._pending
            return WatchTick(frozenset(changed | due), complete=complete)

    def prime(self, group_ids: Collection[str]) -> None:
        """Begin the rounds that have no link yet, keeping their links and not what they list:
        called just before a full poll reads every group, so the first look after it reports
        what changed since, rather than every group again (an initial round lists them all,
        as Graph documents). A round that fails is begun again by the next look, as ever."""
        with self._lock:
            now = self._clock.monotonic()
            fresh = [q for q in self._queries(group_ids) if q.link is None]
            rounds = self._feed.rounds(fresh) if fresh else []
            by_key = {q.key: q for q in fresh}
            for r in rounds:
                if r.outcome == "ok" and r.link is not None:
                    self._keep(by_key[r.key], r, now)

    def settled(self, asked: Collection[str], read: Collection[str]) -> None:
        """After the read of `asked`: those not in `read` are read again in a while."""
        with self._lock:
            retry_at = self._clock.monotonic() + RETRY_READ
            for group in asked:
                if group in read:
                    self._pending.pop(group, None)
                else:
                    self._pending[group] = retry_at

    # -- a look --------------------------------------------------------------------------

    def _queries(self, group_ids: Collection[str]) -> list[DeltaQuery]:
        if self._current is None:
            self._current = self._links.delta_links()
        wanted = queries_for(group_ids)
        keys = {key for key, _ in wanted}
        stale = [k for k in self._current if k not in keys]
        if stale:
            # The mapping changed: those queries will not be asked again.
            self._links.drop_delta_links(stale)
            for key in stale:
                self._current.pop(key, None)
        return [DeltaQuery(key, ids, self._current.get(key)) for key, ids in wanted]

    def _resync(self, queries: list[DeltaQuery], rounds: list[DeltaRound]) -> list[DeltaRound]:
        """Queries whose link Graph no longer knows start again without one, at once."""
        expired = {r.key for r in rounds if r.outcome == "expired"}
        if not expired:
            return rounds
        again = [DeltaQuery(q.key, q.group_ids) for q in queries if q.key in expired]
        groups = sum(len(q.group_ids) for q in again)
        log.warning(
            "membership delta: %d state token(s) expired; reading their %d group(s) in full",
            len(again),
            groups,
        )
        fresh = {r.key: r for r in self._feed.rounds(again)}
        return [fresh.get(r.key, r) for r in rounds]

    def _unavailable(self, refused: DeltaRound, now: float) -> WatchTick:
        if self.unavailable is None:
            log.warning(
                "membership delta unavailable (%s): polling every mapping instead", refused.error
            )
        self.unavailable = refused.error or "refused"
        self._reprobe_at = now + REPROBE
        return WatchTick(frozenset(), available=False)

    def _take(self, queries: list[DeltaQuery], rounds: list[DeltaRound], now: float) -> set[str]:
        assert self._current is not None
        by_key = {q.key: q for q in queries}
        changed: set[str] = set()
        for r in rounds:
            query = by_key[r.key]
            if r.outcome != "ok" or r.link is None:
                # Nothing is known of these groups: read them, never assume they are unchanged.
                log.warning(
                    "membership delta of %d group(s) unreadable, reading them instead: %s",
                    len(query.group_ids),
                    r.error,
                )
                changed.update(query.group_ids)
                continue
            changed.update(r.changed)
            self._keep(query, r, now)
        return changed

    def _keep(self, query: DeltaQuery, r: DeltaRound, now: float) -> None:
        assert self._current is not None and r.link is not None
        self._current[r.key] = r.link
        if r.changed or query.link is None or now - self._saved.get(r.key, now) >= RESAVE:
            self._links.keep_delta_link(r.key, query.group_ids, r.link, self._clock.now())
            self._saved[r.key] = now
        self._saved.setdefault(r.key, now)
