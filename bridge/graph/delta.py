"""`GraphMembershipFeed`: the `MembershipFeed` port read from Graph's `groups/delta`.

A query names at most 50 groups (`$filter=id eq '…' or …`, the documented limit for filtering
by id) and selects `members`, the only relationship group delta tracks (owners are not). Each
round follows every `@odata.nextLink` to the page carrying `@odata.deltaLink`, whose
`$deltatoken` starts the next round. Pages are read with the PIM reader's retry policy and
caps, and through `$batch` above a few queries, so watching 2,000 groups costs two calls.

Only a round read to its deltaLink says anything: a page that fails or cannot be read makes
the whole round `failed` (its groups are unknown, never unchanged); 410 Gone (`resyncRequired`,
`syncStateNotFound`) makes it `expired`; 403, 404 and 501 say Graph offers no delta here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bridge.config import EntraConfig
from bridge.graph.client import GraphSession, RetryPolicy
from bridge.graph.listing import Drain, Listing
from bridge.ports import DeltaOutcome, DeltaQuery, DeltaRound

UNAVAILABLE = frozenset({403, 404, 501})  # no permission, no such resource, not implemented
GONE = 410  # the state token is too old or unknown: a full resync


class GraphMembershipFeed:
    def __init__(
        self,
        entra: EntraConfig,
        session: GraphSession,
        retry: RetryPolicy,
        *,
        deadline: float = 10.0,
        concurrency: int = 4,
        batch_threshold: int = 4,
    ) -> None:
        self._session = session
        self._drain = Drain(session, entra, retry, deadline=deadline, concurrency=concurrency)
        self._deadline = deadline
        self.batch_threshold = batch_threshold

    def rounds(self, queries: Sequence[DeltaQuery]) -> list[DeltaRound]:
        return self._session.run(self._rounds(list(queries)))

    async def _rounds(self, queries: list[DeltaQuery]) -> list[DeltaRound]:
        wire = self._session.wire()
        listings = [Listing(q.key, "delta", q.link or wire.delta_url(q.group_ids)) for q in queries]
        batched = len(listings) > self.batch_threshold
        await self._drain.drain(listings, batched, time.monotonic() + self._deadline)
        return [_round(q, lst) for q, lst in zip(queries, listings, strict=True)]


def _round(query: DeltaQuery, listing: Listing) -> DeltaRound:
    if listing.error is not None:
        return DeltaRound(query.key, _failure(query, listing.status), error=listing.error)
    if listing.delta_link is None:
        return DeltaRound(query.key, "failed", error="the last page carried no @odata.deltaLink")
    try:
        changed = _changed(listing.items, frozenset(query.group_ids))
    except ValueError as exc:
        return DeltaRound(query.key, "failed", error=f"unreadable delta page: {exc}")
    if query.link is None:
        # An initial round lists the groups as they are, not what changed: all of them are to
        # be read, since nothing says what happened before it.
        changed = frozenset(query.group_ids)
    return DeltaRound(query.key, "ok", changed, listing.delta_link)


def _failure(query: DeltaQuery, status: int | None) -> DeltaOutcome:
    if status == GONE and query.link is not None:
        return "expired"
    if status in UNAVAILABLE:
        return "unavailable"
    return "failed"


def _changed(items: list[Any], asked: frozenset[str]) -> frozenset[str]:
    """Groups the round lists with a membership change (or as deleted). An item Graph sends
    that cannot be read fails the round: it may be the change that matters."""
    out: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ValueError("a group without an id")
        members = item.get("members@delta", [])
        if not isinstance(members, list) or not all(
            isinstance(m, dict) and isinstance(m.get("id"), str) for m in members
        ):
            raise ValueError(f"group {item['id']}: members@delta is not a list of objects")
        if item["id"] in asked and (members or "@removed" in item):
            out.add(item["id"])
    return frozenset(out)
