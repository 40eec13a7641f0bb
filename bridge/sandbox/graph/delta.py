"""`GET /groups/delta` as Graph v1.0 serves it (the `group: delta` reference page and the delta
query overview): `$select=members`, `$filter=id eq '…' or id eq '…'` with at most 50 ids,
groups whose members changed with `members@delta` (a removed member carries `@removed`),
pages linked by `@odata.nextLink`, and the last page's `@odata.deltaLink` whose `$deltatoken`
starts the next round. A token of an earlier generation (`expire_tokens`) or one the sandbox
never issued answers 410 Gone, `resyncRequired`, as Graph does once a token is too old.

Tokens carry the round's query and the moment it saw, so the sandbox keeps no state per
client; what changed since is computed from the tenant's instances (`membership`)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

from bridge.sandbox.graph.http import ApiRequest, ApiResponse, GraphApiError, Router
from bridge.sandbox.graph.membership import MembershipDelay, members_at
from bridge.sandbox.graph.odata import ok
from bridge.sandbox.graph.tenant import Tenant

DELTA = "/groups/delta"
FILTER_ID_LIMIT = 50  # Graph's documented limit of ids in one delta query's $filter
_ID_CLAUSE = re.compile(r"^\s*id\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)
_ODATA_TYPES = {"user": "#microsoft.graph.user", "group": "#microsoft.graph.group"}
_REFUSALS = {
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("Request_ResourceNotFound", "Resource 'delta' does not exist."),
    501: ("NotImplemented", "Delta query is not supported on this resource."),
}


@dataclass
class DeltaSettings:
    """What a test may change about the delta route while the sandbox runs."""

    delay: MembershipDelay = field(default_factory=MembershipDelay)
    page_size: int = 20  # groups per page
    refusal: int | None = None  # 403, 404 or 501: delta unavailable, as without permission
    generation: int = 0  # tokens issued before the last `expire_tokens` answer 410
    broken_pages: int = 0  # the next this many pages come without a `value` list

    def expire_tokens(self) -> None:
        self.generation += 1


class DeltaSandbox(Protocol):
    tenant: Tenant
    delta: DeltaSettings

    @property
    def url(self) -> str: ...


@dataclass(frozen=True)
class _Round:
    """One round of a delta query: its groups, what it compares, and where its pages are."""

    ids: tuple[str, ...] | None  # None: every group
    members: bool  # `$select` names members
    since: datetime | None  # None: the initial round, which lists every member
    until: datetime
    offset: int = 0


def install(router: Router, sandbox: DeltaSandbox) -> None:
    # `delta()` as msgraph-sdk writes the function, `delta` as the docs do: Graph takes both.
    router.add("GET", re.escape(DELTA) + r"(?:\(\))?", _DeltaRoute(sandbox).delta)


class _DeltaRoute:
    def __init__(self, sandbox: DeltaSandbox) -> None:
        self.sb = sandbox

    def delta(self, req: ApiRequest, _: re.Match[str]) -> ApiResponse:
        settings = self.sb.delta
        if settings.refusal is not None:
            code, message = _REFUSALS.get(settings.refusal, ("UnknownError", "Refused."))
            raise GraphApiError(settings.refusal, code, message)
        current = self._round(req)
        items = self._changes(current)
        end = current.offset + settings.page_size
        body: dict[str, Any] = {"@odata.context": f"{self.sb.url}/$metadata#groups"}
        if settings.broken_pages > 0:
            settings.broken_pages -= 1
            return ok(body)  # a page as a broken proxy might pass it on: no `value`
        if end < len(items):
            skip = _Round(current.ids, current.members, current.since, current.until, end)
            body["@odata.nextLink"] = self._link("$skiptoken", skip)
        else:
            following = _Round(current.ids, current.members, current.until, current.until)
            body["@odata.deltaLink"] = self._link("$deltatoken", following)
        body["value"] = items[current.offset : end]
        return ok(body)

    def _round(self, req: ApiRequest) -> _Round:
        for name in ("$deltatoken", "$skiptoken"):
            if name in req.query:
                found = _decode(req.query[name], self.sb.delta.generation)
                if name == "$deltatoken":
                    # A new round: everything from the moment the last one saw until now.
                    return _Round(found.ids, found.members, found.since, self.sb.tenant.clock.now())
                return found
        selected = {s.strip().lower() for s in req.query.get("$select", "").split(",")}
        ids = _filter_ids(req.query.get("$filter"))
        return _Round(ids, "members" in selected, None, self.sb.tenant.clock.now())

    def _changes(self, current: _Round) -> list[dict[str, Any]]:
        tenant = self.sb.tenant
        with tenant.lock:
            groups = [o.id for o in tenant.objects.values() if o.kind == "group"]
        ids = [i for i in current.ids if i in set(groups)] if current.ids is not None else groups
        out: list[dict[str, Any]] = []
        for gid in ids:
            item: dict[str, Any] = {"id": gid}
            if current.members:
                changed = self._member_changes(gid, current)
                if current.since is not None and not changed:
                    continue
                item["members@delta"] = changed
            elif current.since is not None:
                continue  # nothing but membership changes in this tenant
            out.append(item)
        return out

    def _member_changes(self, gid: str, current: _Round) -> list[dict[str, Any]]:
        delay = self.sb.delta.delay
        now = members_at(self.sb.tenant, gid, current.until, delay)
        then = (
            frozenset()
            if current.since is None
            else members_at(self.sb.tenant, gid, current.since, delay)
        )
        added = [self._member(p) for p in sorted(now - then)]
        removed = [
            {**self._member(p), "@removed": {"reason": "deleted"}} for p in sorted(then - now)
        ]
        return added + removed

    def _member(self, principal_id: str) -> dict[str, Any]:
        obj = self.sb.tenant.objects.get(principal_id)
        kind = _ODATA_TYPES.get(obj.kind if obj else "user", "#microsoft.graph.directoryObject")
        return {"@odata.type": kind, "id": principal_id}

    def _link(self, name: str, state: _Round) -> str:
        return f"{self.sb.url}{DELTA}?{name}={quote(_encode(state, self.sb.delta.generation))}"


def _filter_ids(expr: str | None) -> tuple[str, ...] | None:
    if not expr or not expr.strip():
        return None
    ids: list[str] = []
    for part in re.split(r"\s+or\s+", expr.strip(), flags=re.IGNORECASE):
        m = _ID_CLAUSE.match(part)
        if not m:
            raise GraphApiError(
                400, "Request_UnsupportedQuery", f"Unsupported filter clause: '{part.strip()}'."
            )
        ids.append(m.group(1))
    if len(ids) > FILTER_ID_LIMIT:
        raise GraphApiError(
            400,
            "Request_UnsupportedQuery",
            f"The number of ids in the filter ({len(ids)}) exceeds the limit of {FILTER_ID_LIMIT}.",
        )
    return tuple(dict.fromkeys(ids))


def _encode(state: _Round, generation: int) -> str:
    raw = {
        "g": generation,
        "ids": state.ids,
        "m": state.members,
        "s": state.since.isoformat() if state.since else None,
        "u": state.until.isoformat(),
        "o": state.offset,
    }
    packed = zlib.compress(json.dumps(raw, separators=(",", ":")).encode())
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def _decode(token: str, generation: int) -> _Round:
    try:
        raw = json.loads(zlib.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))))
        if raw["g"] != generation:
            raise ValueError("a token of an earlier generation")
        ids = None if raw["ids"] is None else tuple(str(i) for i in raw["ids"])
        since = datetime.fromisoformat(raw["s"]) if raw["s"] else None
        return _Round(ids, bool(raw["m"]), since, datetime.fromisoformat(raw["u"]), int(raw["o"]))
    except (ValueError, KeyError, TypeError, zlib.error, binascii.Error):
        raise GraphApiError(
            410,
            "resyncRequired",
            "The sync state is no longer valid: start again without a token (full resync).",
        ) from None
