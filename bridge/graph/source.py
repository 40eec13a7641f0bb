"""`GraphPimSource`: the `PimSource` port read from Microsoft Graph.

Per group it lists `assignmentScheduleInstances` (`$filter=groupId eq '…'`, `$expand=principal`),
follows every `@odata.nextLink`, and attaches each request's justification, ticket and (for admin
actions) approver to the instance of its target schedule. `assignmentScheduleRequests` are listed
only for groups with an instance that is new or changed since the last read, so a poll where
nothing changed costs one listing per group.
Above `batch_threshold` groups, pages are fetched 20 at a time through `$batch`.

Throttling (429) and outages (502/503/504, network errors) are retried, honouring Retry-After,
per request and per `$batch` sub-response, at most `max_retries` times and never past `deadline`
seconds after the read began. A group whose instances
cannot be read comes back with `GroupRead.error`, never as an empty group; so does one whose
listing runs past `entra.max_pages_per_group` pages or `entra.max_items_per_group` items.

The port is synchronous (the core runs in threads); msgraph-sdk is asyncio, so every call is
submitted to the event loop of the source's `GraphSession`. The retry policy and its
Retry-After parsing live beside the session, shared with the other Graph readers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, TypeVar

from azure.core.credentials_async import AsyncTokenCredential

from bridge.config import EntraConfig
from bridge.errors import SourceError
from bridge.graph.client import (
    BATCH_SIZE,
    GraphSession,
    GraphWire,
    Reply,
    RetryPolicy,
    call_failure,
)
from bridge.graph.normalise import (
    MalformedItem,
    RequestInfo,
    describe,
    latest_requests,
    parse_instance,
)
from bridge.ports import GroupRead, PimInstance

log = logging.getLogger(__name__)

NIL_GROUP = "00000000-0000-0000-0000-000000000000"
T = TypeVar("T")

Kind = Literal["instances", "requests", "user"]


@dataclass
class _Listing:
    """One paged collection being read: its next page and what was gathered so far."""

    key: str  # group id, or user id for a name lookup
    kind: Kind
    url: str | None
    items: list[Any] = field(default_factory=list)
    pages: int = 0  # pages read so far
    attempts: int = 0  # failed tries of the current page
    not_before: float = 0.0  # monotonic time before which the page is not retried
    give_up_at: float = float("inf")  # monotonic time after which no retry is scheduled
    error: str | None = None
    body: Any = None  # the single object for `user`

    @property
    def pending(self) -> bool:
        return self.url is not None and self.error is None

    @property
    def job_id(self) -> str:
        return f"{self.kind}:{self.key}"


class GraphPimSource:
    def __init__(
        self,
        entra: EntraConfig,
        *,
        batch_threshold: int = 4,
        max_retries: int = 5,
        backoff: float = 1.0,
        deadline: float = 20.0,
        concurrency: int = 4,
        credential: AsyncTokenCredential | None = None,
        session: GraphSession | None = None,
    ) -> None:
        """`session` shares another reader's connection (it is then not closed here);
        without one the source opens its own, with `credential` or the configured one."""
        if session is not None and credential is not None:
            raise ValueError("pass a credential or a session, not both")
        self._entra = entra
        self.batch_threshold = batch_threshold
        self.retry = RetryPolicy(max_retries=max_retries, backoff=backoff)
        # A poll must end well before the next one is due: retries stop at this many seconds.
        self.deadline = deadline
        self.concurrency = concurrency
        self._owns_session = session is None
        self._session = session or GraphSession(entra, credential, name="graph-source")
        self._names: dict[str, str] = {}  # approver user id -> UPN or display name
        # Per group: the instances whose requests were read (id -> _marks value), and the
        # latest granting request per schedule found then.
        self._seen: dict[str, dict[str, tuple[Any, ...]]] = {}
        self._requests: dict[str, dict[str, RequestInfo]] = {}

    # -- the port ------------------------------------------------------------------------------

    def read_groups(
        self, group_ids: Sequence[str], *, deadline: float | None = None
    ) -> dict[str, GroupRead]:
        ids = list(dict.fromkeys(group_ids))
        return self._session.run(self._read_groups(ids, deadline or self.deadline))

    def check(self, group_ids: Sequence[str] = ()) -> str:
        """Prove Graph answers and accepts the credential, for `check-config`: read the first
        of `group_ids`, or with none, a PIM list scoped to the nil group id (an empty answer
        still needs a valid token). Raises SourceError with Graph's reason otherwise."""
        group_id = group_ids[0] if group_ids else NIL_GROUP
        read = self.read_groups([group_id])[group_id]
        if read.error:
            refused = any(f"HTTP {code}" in read.error for code in (400, 401, 403, 404))
            raise SourceError(
                f"Graph at {self._entra.graph_base_url}: {read.error}", temporary=not refused
            )
        what = f"group {group_id} readable" if group_ids else "PIM for Groups readable"
        return (
            f"Graph reachable at {self._entra.graph_base_url}, credential accepted; {what} "
            f"({len(read.instances)} active instance(s))"
        )

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> GraphPimSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------------

    async def _read_groups(self, group_ids: list[str], deadline: float) -> dict[str, GroupRead]:
        wire = self._session.wire()
        batched = len(group_ids) > self.batch_threshold
        give_up_at = time.monotonic() + deadline
        listings = {gid: _Listing(gid, "instances", wire.instances_url(gid)) for gid in group_ids}
        await self._drain(list(listings.values()), batched, give_up_at)

        # Requests are read only for groups with an instance not seen before, or whose window
        # or schedule changed (an extension): at 2,000 groups, listing them every poll would
        # double the calls of a poll where nothing changed. Their audit details are kept per
        # schedule and attached to the instance on every read after.
        marks = {gid: _marks(lst.items) for gid, lst in listings.items() if lst.error is None}
        stale = [
            _Listing(gid, "requests", wire.requests_url(gid))
            for gid, mark in marks.items()
            if any(self._seen.get(gid, {}).get(i) != m for i, m in mark.items())
        ]
        await self._drain(stale, batched, give_up_at)
        for req_listing in stale:
            gid = req_listing.key
            if req_listing.error:
                # Requests only enrich the audit trail; current state comes from instances.
                # The group stays unseen, so the next poll reads its requests again.
                log.warning(
                    "group %s: schedule requests unreadable, audit details missing: %s",
                    gid,
                    req_listing.error,
                )
                continue
            self._requests[gid] = latest_requests(req_listing.items)
            self._seen[gid] = marks[gid]
        for gid, mark in marks.items():
            # Forget instances that ended and requests of schedules no longer listed.
            schedules = {m[0] for m in mark.values()}
            known = self._requests.get(gid, {})
            self._requests[gid] = {k: v for k, v in known.items() if k in schedules}
            seen = self._seen.get(gid, {})
            self._seen[gid] = {i: m for i, m in seen.items() if i in mark}
        requests = {gid: self._requests.get(gid, {}) for gid in group_ids}
        await self._resolve_names(
            {
                r.creator_id
                for rs in requests.values()
                for r in rs.values()
                if r.creator_id and not r.creator_name
            },
            batched,
        )
        return {gid: self._group_read(gid, listings[gid], requests[gid]) for gid in group_ids}

    def _group_read(
        self, gid: str, listing: _Listing, requests: dict[str, RequestInfo]
    ) -> GroupRead:
        if listing.error:
            log.error("group %s: assignment schedule instances unreadable: %s", gid, listing.error)
            return GroupRead(gid, error=listing.error)
        instances: list[PimInstance] = []
        skipped: list[str] = []
        for item in listing.items:
            try:
                instances.append(parse_instance(item, gid, requests, self._names))
            except MalformedItem as exc:
                reason = f"{describe(item)}: {exc}"
                log.warning("group %s: skipped malformed instance %s", gid, reason)
                skipped.append(reason)
        return GroupRead(gid, tuple(instances), skipped=tuple(skipped))

    async def _resolve_names(self, user_ids: set[str], batched: bool) -> None:
        wire = self._session.wire()
        todo = [_Listing(uid, "user", wire.user_url(uid)) for uid in user_ids - self._names.keys()]
        if not todo:
            return
        await self._drain(todo, batched)
        for lst in todo:
            body = lst.body if isinstance(lst.body, dict) else {}
            name = body.get("userPrincipalName") or body.get("displayName")
            if isinstance(name, str) and name:
                self._names[lst.key] = name

    # -- one retry policy for direct calls and batch sub-responses -----------------------------

    async def _drain(
        self, listings: list[_Listing], batched: bool, give_up_at: float | None = None
    ) -> None:
        wire = self._session.wire()
        limit = asyncio.Semaphore(self.concurrency if batched else max(self.concurrency, 8))
        if give_up_at is None:
            give_up_at = time.monotonic() + self.deadline
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

    async def _send_one(self, wire: GraphWire, listing: _Listing, limit: asyncio.Semaphore) -> None:
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
        self, wire: GraphWire, chunk: list[_Listing], limit: asyncio.Semaphore
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
        message = f"no answer within the {self.deadline:g}s read deadline"
        return Reply(0, {}, {"error": {"code": "Timeout", "message": message}})

    def _apply(self, wire: GraphWire, listing: _Listing, reply: Reply) -> None:
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
            listing.items.extend(values)
            listing.pages += 1
            next_link = body.get("@odata.nextLink")
            listing.url = wire.relative(next_link) if isinstance(next_link, str) else None
            self._within_caps(listing)
            return
        delay = self.retry.delay(reply, listing.attempts)
        in_time = time.monotonic() + delay <= listing.give_up_at
        if self.retry.allows(reply, listing.attempts) and in_time:
            listing.attempts += 1
            listing.not_before = time.monotonic() + delay
            log.info(
                "graph %s %s: %s, retry %d/%d in %.1fs",
                listing.kind,
                listing.key,
                reply.status,
                listing.attempts,
                self.retry.max_retries,
                delay,
            )
            return
        retried = f" after {listing.attempts} retries" if listing.attempts else ""
        if self.retry.retryable(reply) and not in_time:
            retried += f" (next retry would pass the {self.deadline:g}s read deadline)"
        listing.error = f"reading {listing.kind} failed{retried}: {reply.error_text()}"

    def _within_caps(self, listing: _Listing) -> None:
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


def _marks(items: list[Any]) -> dict[str, tuple[Any, ...]]:
    """Instance id -> what, when it changes, may come with a new request: its schedule and
    window (an extension moves the end; its justification replaces the activation's)."""
    return {
        item["id"]: (
            item.get("assignmentScheduleId"),
            item.get("startDateTime"),
            item.get("endDateTime"),
        )
        for item in items
        if isinstance(item, dict) and isinstance(item.get("id"), str)
    }


async def _by(give_up_at: float, call: Coroutine[Any, Any, T]) -> T:
    """`call`, cancelled at the read deadline: a Graph that accepts the connection and never
    answers must not hold a poll past it (the HTTP client's own timeout is far longer)."""
    if give_up_at == float("inf"):
        return await call
    return await asyncio.wait_for(call, timeout=max(0.0, give_up_at - time.monotonic()))
