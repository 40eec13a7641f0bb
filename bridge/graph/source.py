"""`GraphPimSource`: the `PimSource` port read from Microsoft Graph.

Per group it lists `assignmentScheduleInstances` (`$filter=groupId eq '…'`, `$expand=principal`),
follows every `@odata.nextLink`, and attaches each request's justification, ticket and (for admin
actions) approver to the instance of its target schedule. `assignmentScheduleRequests` are listed
only for groups with an instance that is new, changed or gone since the last read, so a poll where
nothing changed costs one listing per group; an instance gone early comes with PIM's own time of
the request that ended it.
Above `batch_threshold` groups, pages are fetched 20 at a time through `$batch`, `concurrency`
batches in flight at once (a 2,000-group read is 100 of them; Graph throttles by requests per
tenant and application, with 429 and Retry-After, which are honoured).

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

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential

from bridge.config import EntraConfig
from bridge.errors import SourceError
from bridge.graph.client import GraphSession, GraphWire, RetryPolicy
from bridge.graph.listing import Drain, Listing
from bridge.graph.normalise import (
    Listed,
    RequestInfo,
    audited,
    latest_ends,
    listed_instance,
    listed_request,
    merged_requests,
)
from bridge.ports import GroupRead, PimInstance

log = logging.getLogger(__name__)

NIL_GROUP = "00000000-0000-0000-0000-000000000000"


class GraphPimSource:
    def __init__(
        self,
        entra: EntraConfig,
        *,
        batch_threshold: int = 4,
        max_retries: int = 5,
        backoff: float = 1.0,
        deadline: float = 20.0,
        concurrency: int = 8,
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
        self._reader = Drain(
            self._session, entra, self.retry, deadline=deadline, concurrency=concurrency
        )
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
        listings = _instance_listings(wire, group_ids)
        await self._reader.drain(list(listings.values()), batched, give_up_at)

        # Requests are read only for groups with an instance not seen before, or whose window
        # or schedule changed (an extension): at 2,000 groups, listing them every poll would
        # double the calls of a poll where nothing changed. Their audit details are kept per
        # schedule and attached to the instance on every read after.
        marks = {gid: _marks(lst.items) for gid, lst in listings.items() if lst.error is None}
        gone = {gid: _gone(self._seen.get(gid, {}), mark) for gid, mark in marks.items()}
        stale = [
            Listing(gid, "requests", wire.requests_url(gid), parse=listed_request)
            for gid, mark in marks.items()
            if gone[gid] or any(self._seen.get(gid, {}).get(i) != m for i, m in mark.items())
        ]
        ended: dict[str, dict[str, datetime]] = {}
        await self._reader.drain(stale, batched, give_up_at)
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
            self._requests[gid] = merged_requests(r for r, _ in req_listing.items)
            ends = latest_ends(e for _, e in req_listing.items)
            ended[gid] = {i: ends[sid] for i, sid in gone[gid].items() if sid in ends}
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
        return {
            gid: self._group_read(gid, listings[gid], requests[gid], ended.get(gid, {}))
            for gid in group_ids
        }

    def _group_read(
        self,
        gid: str,
        listing: Listing,
        requests: dict[str, RequestInfo],
        ended: dict[str, datetime],
    ) -> GroupRead:
        if listing.error:
            log.error("group %s: assignment schedule instances unreadable: %s", gid, listing.error)
            return GroupRead(gid, error=listing.error)
        instances: list[PimInstance] = []
        skipped: list[str] = []
        for listed in listing.items:
            if listed.instance is not None:
                instances.append(audited(listed.instance, listed.mark[0], requests, self._names))
            else:
                log.warning("group %s: skipped malformed instance %s", gid, listed.skipped)
                skipped.append(listed.skipped)
        return GroupRead(gid, tuple(instances), skipped=tuple(skipped), ended=ended)

    async def _resolve_names(self, user_ids: set[str], batched: bool) -> None:
        wire = self._session.wire()
        todo = [Listing(uid, "user", wire.user_url(uid)) for uid in user_ids - self._names.keys()]
        if not todo:
            return
        await self._reader.drain(todo, batched)
        for lst in todo:
            body = lst.body if isinstance(lst.body, dict) else {}
            name = body.get("userPrincipalName") or body.get("displayName")
            if isinstance(name, str) and name:
                self._names[lst.key] = name


def _gone(seen: dict[str, tuple[Any, ...]], listed: dict[str, tuple[Any, ...]]) -> dict[str, str]:
    """Instance id -> schedule id of the instances read before and no longer listed."""
    return {i: m[0] for i, m in seen.items() if i not in listed and isinstance(m[0], str)}


def _marks(items: list[Listed]) -> dict[str, tuple[Any, ...]]:
    """Instance id -> what, when it changes, may come with a new request: its schedule and
    window (an extension moves the end; its justification replaces the activation's)."""
    return {listed.id: listed.mark for listed in items if listed.id is not None}


def _instance_listings(wire: GraphWire, group_ids: list[str]) -> dict[str, Listing]:
    """Each page's items are read as they arrive, so no more than the pages in flight are ever
    held as JSON (at 2,000 groups the whole read's JSON is tens of MB)."""
    return {
        gid: Listing(gid, "instances", wire.instances_url(gid), parse=_instance_of(gid))
        for gid in group_ids
    }


def _instance_of(group_id: str) -> Callable[[Any], Listed]:
    return lambda item: listed_instance(item, group_id)
