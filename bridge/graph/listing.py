"""Paged Graph listings read to the end, many at once: direct calls or `$batch` of 20, one retry
policy for both (429 and outages retried, honouring Retry-After, never past the read's
deadline), and the page and item caps that stop a listing before it takes the process."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from bridge.config import EntraConfig
from bridge.graph.client import (
    BATCH_SIZE,
    GraphSession,
    GraphWire,
    Reply,
    RetryPolicy,
    call_failure,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

Kind = Literal["instances", "requests", "user", "delta"]


@dataclass
class Listing:
    """One paged collection being read: its next page and what was gathered so far."""

    key: str  # group id, user id for a name lookup, or a delta query's key
    kind: Kind
    url: str | None
    items: list[Any] = field(default_factory=list)
    pages: int = 0  # pages read so far
    attempts: int = 0  # failed tries of the current page
    not_before: float = 0.0  # monotonic time before which the page is not retried
    give_up_at: float = float("inf")  # monotonic time after which no retry is scheduled
    error: str | None = None
    status: int | None = None  # Graph's status when the listing failed (0: no answer)
    body: Any = None  # the single object for `user`
    delta_link: str | None = None  # the last page's `@odata.deltaLink`, for `delta`
    # What each item is kept as, read as its page arrives (None: its JSON as it came).
    parse: Callable[[Any], Any] | None = None

    @property
    def pending(self) -> bool:
        return self.url is not None and self.error is None

    @property
    def job_id(self) -> str:
        return f"{self.kind}:{self.key}"


class Drain:
    """Reads listings to their last page through one Graph session."""

    def __init__(
        self,
        session: GraphSession,
        entra: EntraConfig,
        retry: RetryPolicy,
        *,
        deadline: float,
        concurrency: int,
    ) -> None:
        self._session = session
        self._entra = entra
        self._retry = retry
        self._deadline = deadline
        self._concurrency = concurrency

    async def drain(
        self, listings: list[Listing], batched: bool, give_up_at: float | None = None
    ) -> None:
        wire = self._session.wire()
        limit = asyncio.Semaphore(self._concurrency if batched else max(self._concurrency, 8))
        if give_up_at is None:
            give_up_at = time.monotonic() + self._deadline
        for lst in listings:
            lst.give_up_at = give_up_at
        while True:
            pending = [lst for lst in listings if lst.pending]
            if not pending:
                return
            now = time.monotonic()
            ready = [lst for lst in pending if lst.not_before <= now]
            if not ready:
                await asyncio.sleep(min(lst.not_before for lst in pending) - now)
                continue
            if batched:
                chunks = [ready[i : i + BATCH_SIZE] for i in range(0, len(ready), BATCH_SIZE)]
                await asyncio.gather(*(self._send_batch(wire, c, limit) for c in chunks))
            else:
                await asyncio.gather(*(self._send_one(wire, lst, limit) for lst in ready))

    async def _send_one(self, wire: GraphWire, listing: Listing, limit: asyncio.Semaphore) -> None:
        assert listing.url is not None
        async with limit:
            try:
                reply = await _by(listing.give_up_at, wire.get(listing.url))
            except TimeoutError:
                reply = self._no_answer()
            except Exception as exc:
                reply = call_failure(exc)
        self._apply(wire, listing, reply)

    async def _send_batch(
        self, wire: GraphWire, chunk: list[Listing], limit: asyncio.Semaphore
    ) -> None:
        async with limit:
            try:
                replies = await _by(
                    min(lst.give_up_at for lst in chunk),
                    wire.batch([(lst.job_id, lst.url or "") for lst in chunk]),
                )
            except TimeoutError:
                replies = {lst.job_id: self._no_answer() for lst in chunk}
            except Exception as exc:
                replies = {lst.job_id: call_failure(exc) for lst in chunk}
        for lst in chunk:
            self._apply(wire, lst, replies[lst.job_id])

    def _no_answer(self) -> Reply:
        # Not retried: the read deadline has passed.
        message = f"no answer within the {self._deadline:g}s read deadline"
        return Reply(0, {}, {"error": {"code": "Timeout", "message": message}})

    def _apply(self, wire: GraphWire, listing: Listing, reply: Reply) -> None:
        if reply.ok:
            listing.attempts = 0
            body = reply.body if isinstance(reply.body, dict) else {}
            if listing.kind == "user":
                listing.body, listing.url = body, None
                return
            values = body.get("value")
            if not isinstance(values, list):
                listing.error = "Graph answered without a 'value' list"
                return
            listing.items.extend(values if listing.parse is None else map(listing.parse, values))
            listing.pages += 1
            next_link = body.get("@odata.nextLink")
            listing.url = wire.relative(next_link) if isinstance(next_link, str) else None
            delta_link = body.get("@odata.deltaLink")
            if isinstance(delta_link, str):
                listing.delta_link = wire.relative(delta_link)
            self._within_caps(listing)
            return
        delay = self._retry.delay(reply, listing.attempts)
        in_time = time.monotonic() + delay <= listing.give_up_at
        if self._retry.allows(reply, listing.attempts) and in_time:
            listing.attempts += 1
            listing.not_before = time.monotonic() + delay
            log.info(
                "graph %s %s: %s, retry %d/%d in %.1fs",
                listing.kind,
                listing.key,
                reply.status,
                listing.attempts,
                self._retry.max_retries,
                delay,
            )
            return
        retried = f" after {listing.attempts} retries" if listing.attempts else ""
        if self._retry.retryable(reply) and not in_time:
            retried += f" (next retry would pass the {self._deadline:g}s read deadline)"
        listing.status = reply.status
        listing.error = f"reading {listing.kind} failed{retried}: {reply.error_text()}"

    def _within_caps(self, listing: Listing) -> None:
        """A listing past its page or item cap is an error, never read as complete: a nextLink
        loop or a huge listing must not take the process's memory, nor pass off the part read
        as the whole (the rest could hold the activations that keep access)."""
        entra = self._entra
        if len(listing.items) > entra.max_items_per_group:
            over = f"more than {entra.max_items_per_group} items (entra.max_items_per_group)"
        elif listing.url is not None and listing.pages >= entra.max_pages_per_group:
            over = f"more than {entra.max_pages_per_group} pages (entra.max_pages_per_group)"
        else:
            return
        listing.error = f"reading {listing.kind} stopped: {over}"
        listing.items.clear()  # nothing of a listing read in part is used
        listing.url = None


async def _by(give_up_at: float, call: Coroutine[Any, Any, T]) -> T:
    """`call`, cancelled at the read deadline: a Graph that accepts the connection and never
    answers must not hold a poll past it (the HTTP client's own timeout is far longer)."""
    if give_up_at == float("inf"):
        return await call
    return await asyncio.wait_for(call, timeout=max(0.0, give_up_at - time.monotonic()))
