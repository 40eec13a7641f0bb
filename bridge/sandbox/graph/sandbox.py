"""A Microsoft Graph sandbox for PIM for Groups: an in-memory tenant behind a real HTTP server
on 127.0.0.1, with bearer-token checks, paging, JSON batching and fault injection.

    with GraphSandbox(clock=clock, page_size=50) as sb:
        alice = sb.add_user("alice@contoso.test")
        group = sb.add_group("prod-admins")
        sb.add_eligibility(alice, group)
        sb.actor().activate(alice, group, timedelta(hours=1), "INC-1 fix prod")
        # point GraphPimSource at sb.url with token sb.token

Faults (`throttle`, `outage`, `malformed`, `latency`) apply to direct calls and to every
sub-request of a `$batch`, where Graph reports them per sub-response and no SDK retries them.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from bridge.ports import Clock, SystemClock
from bridge.sandbox.graph import delta, health_routes, policy_routes, routes
from bridge.sandbox.graph.actor import GraphActor
from bridge.sandbox.graph.delta import DeltaSettings
from bridge.sandbox.graph.http import (
    ApiRequest,
    ApiResponse,
    LoopbackServer,
    Router,
    graph_error,
    split_url,
)
from bridge.sandbox.graph.tenant import DirectoryObject, Tenant
from bridge.sandbox.lifecycle import ServerLifecycle

VERSION_PREFIX = "/v1.0"
BATCH_LIMIT = 20  # Graph's JSON batching limit

_STATUS_CODES = {
    429: ("TooManyRequests", "Please retry again later."),
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "The service is unreachable."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please retry later."),
    504: ("GatewayTimeout", "The service did not answer in time."),
}
_GROUP_IN_FILTER = re.compile(r"groupId\s+eq\s+'([^']*)'", re.IGNORECASE)


@dataclass
class _Throttle:
    remaining: int
    retry_after: float
    paths: tuple[str, ...] | None
    batch_envelope: bool

    def applies(self, request: ApiRequest, is_envelope: bool) -> bool:
        if self.remaining <= 0 or (is_envelope and not self.batch_envelope):
            return False
        if self.paths is None or is_envelope:
            return True
        return any(p.lower() in request.path.lower() for p in self.paths)


@dataclass(frozen=True)
class _Outage:
    status: int
    retry_after: float | None
    echo_headers: bool = False  # the error message repeats the request's headers


class GraphSandbox(ServerLifecycle):
    def __init__(
        self,
        clock: Clock | None = None,
        page_size: int = 100,
        token: str | None = None,
        enum_case: Literal["lower", "capitalised"] = "lower",
        port: int = 0,
    ) -> None:
        self.tenant = Tenant(clock=clock or SystemClock())
        self.page_size = page_size
        self.enum_case: str = enum_case
        self.token = token or secrets.token_urlsafe(32)
        self.latency = 0.0  # seconds added to every HTTP call
        self.requests_served = 0
        self.malformed_groups: set[str] = set()
        # Membership delta (`groups/delta`): refusals, expired tokens, broken pages, the delay
        # with which PIM's changes reach the group's members.
        self.delta = DeltaSettings()
        self.router = Router()
        delta.install(self.router, self)  # before `/groups/{id}`, which would match it too
        routes.install(self.router, self)
        health_routes.install(self.router, self)
        policy_routes.install(self.router, self)
        # (group id, access) -> the longest activation its PIM policy allows.
        self._max_activation: dict[tuple[str, str], timedelta] = {}
        self._tokens: dict[str, str | None] = {self.token: None}
        self._throttles: list[_Throttle] = []
        self._outages: dict[str | None, _Outage] = {}
        self._lock = threading.Lock()
        self._port = port
        self._server: LoopbackServer | None = None
        self._actors: list[GraphActor] = []  # closed when the sandbox stops
        self.admin_id = self.add_user("pim-admin@sandbox.test", "PIM Administrator")

    # -- lifecycle -----------------------------------------------------------------------------

    def _start(self) -> None:
        self._server = LoopbackServer(self._handle, self._port)
        self._server.start()

    def stop(self) -> None:
        with self._lock:
            actors, self._actors = self._actors, []
        for actor in actors:
            actor.close()
        super().stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Graph sandbox is not started")
        return f"http://127.0.0.1:{self._server.port}{VERSION_PREFIX}"

    # -- seeding -------------------------------------------------------------------------------

    def add_user(
        self,
        upn: str,
        display_name: str | None = None,
        mail: str | None = None,
        id: str | None = None,
    ) -> str:
        name = display_name or upn.split("@", 1)[0]
        return self.tenant.add_object(
            DirectoryObject(id or str(uuid.uuid4()), "user", name, upn, mail or upn)
        )

    def add_group(self, display_name: str, id: str | None = None) -> str:
        return self.tenant.add_object(
            DirectoryObject(id or str(uuid.uuid4()), "group", display_name)
        )

    def add_eligibility(self, principal_id: str, group_id: str, access_id: str = "member") -> None:
        self.tenant.add_eligibility(principal_id, group_id, access_id)

    def add_nested_group_principal(
        self, display_name: str, group_id: str, access_id: str = "member", id: str | None = None
    ) -> str:
        """A group that is itself eligible for `group_id`: its instances have a group principal."""
        nested = self.add_group(display_name, id)
        self.add_eligibility(nested, group_id, access_id)
        return nested

    def set_max_activation(
        self, group_id: str, duration: timedelta, access_id: str = "member"
    ) -> None:
        """The group's PIM policy: an activation lasts at most `duration` (8 hours unless set)."""
        self._max_activation[group_id, access_id] = duration

    def max_activation(self, group_id: str, access_id: str) -> timedelta:
        return self._max_activation.get((group_id, access_id), policy_routes.DEFAULT_MAX_ACTIVATION)

    def issue_token(self, user_id: str | None = None) -> str:
        """A bearer token the sandbox accepts, acting as `user_id` (None: the application)."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = user_id
        return token

    def actor(self, admin_id: str | None = None) -> GraphActor:
        """A client that changes PIM state through HTTP, as the portal or a user would. Its
        connection is closed when the sandbox stops, if the caller has not closed it before."""
        actor = GraphActor(self.url, self.issue_token(admin_id or self.admin_id))
        with self._lock:
            self._actors.append(actor)
        return actor

    # -- faults --------------------------------------------------------------------------------

    def throttle(
        self,
        count: int,
        retry_after: float = 1,
        paths: Iterable[str] | None = None,
        *,
        batch_envelope: bool = False,
    ) -> None:
        """The next `count` matching calls answer 429 with Retry-After. Sub-requests of a
        `$batch` count one each; the `$batch` call itself only with `batch_envelope=True`."""
        with self._lock:
            self._throttles.append(
                _Throttle(count, retry_after, tuple(paths) if paths else None, batch_envelope)
            )

    def outage(
        self,
        group_id: str | None = None,
        status: int = 503,
        retry_after: float | None = None,
        *,
        echo_headers: bool = False,
    ) -> None:
        """Reads of `group_id` (every call when None) fail with `status` until `restore()`;
        with `echo_headers`, the error message repeats the request's headers, bearer token
        included, as a misbehaving proxy in front of Graph might."""
        with self._lock:
            self._outages[group_id] = _Outage(status, retry_after, echo_headers)

    def malformed(self, group_id: str) -> None:
        """Listing `group_id`'s instances includes an item missing required properties."""
        self.malformed_groups.add(group_id)

    def restore(self) -> None:
        """Clear every injected fault: outages, pending throttles, malformed groups and delta
        pages, a refused delta, latency."""
        with self._lock:
            self._outages.clear()
            self._throttles.clear()
            self.malformed_groups.clear()
            self.delta.refusal = None
            self.delta.broken_pages = 0
            self.latency = 0.0

    # -- serving -------------------------------------------------------------------------------

    def _handle(
        self, method: str, raw: str, headers: Mapping[str, str], data: bytes
    ) -> ApiResponse:
        with self._lock:
            self.requests_served += 1
            latency = self.latency
        if latency:
            time.sleep(latency)
        if not raw.lower().startswith(VERSION_PREFIX.lower() + "/"):
            return graph_error(400, "BadRequest", "Invalid version: use /v1.0.")
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        with self._lock:
            known = auth[7:].strip() in self._tokens
            caller = self._tokens.get(auth[7:].strip())
        if not known:
            return graph_error(
                401, "InvalidAuthenticationToken", "Access token validation failure."
            )
        try:
            body = json.loads(data) if data else None
        except ValueError:
            return graph_error(400, "BadRequest", "Unable to read JSON request payload.")
        path, query = split_url(raw, VERSION_PREFIX)
        request = ApiRequest(method.upper(), path, query, headers, body, caller)
        if request.method == "POST" and path.lower() == "/$batch":
            return self._fault(request, is_envelope=True) or self._batch(request)
        return self._dispatch(request)

    def _dispatch(self, request: ApiRequest) -> ApiResponse:
        return self._fault(request, is_envelope=False) or self.router.dispatch(request)

    def _fault(self, request: ApiRequest, *, is_envelope: bool) -> ApiResponse | None:
        with self._lock:
            for throttle in self._throttles:
                if throttle.applies(request, is_envelope):
                    throttle.remaining -= 1
                    return _status_error(429, throttle.retry_after)
            m = _GROUP_IN_FILTER.search(request.query.get("$filter", ""))
            outage = self._outages.get(None) or (m and self._outages.get(m.group(1)))
        if outage and outage.echo_headers:
            sent = "; ".join(f"{k}: {v}" for k, v in request.headers.items())
            return graph_error(outage.status, "BadRequest", f"Request rejected. Headers: {sent}")
        if outage:
            return _status_error(outage.status, outage.retry_after)
        return None

    def _batch(self, request: ApiRequest) -> ApiResponse:
        items = request.body.get("requests") if isinstance(request.body, dict) else None
        if not isinstance(items, list) or not items:
            return graph_error(400, "BadRequest", "Invalid batch payload format.")
        if len(items) > BATCH_LIMIT:
            return graph_error(
                400,
                "BadRequest",
                f"The number of batch requests exceeds the limit of {BATCH_LIMIT}.",
            )
        responses: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, dict) or not item.get("id") or not item.get("url"):
                return graph_error(400, "BadRequest", "Each batch request needs an id and a url.")
            path, query = split_url(str(item["url"]), VERSION_PREFIX)
            sub = ApiRequest(
                str(item.get("method", "GET")).upper(),
                path,
                query,
                {k.lower(): str(v) for k, v in (item.get("headers") or {}).items()},
                item.get("body"),
                request.caller,
                in_batch=True,
            )
            answer = self._dispatch(sub)
            responses.append(
                {
                    "id": str(item["id"]),
                    "status": answer.status,
                    "headers": answer.headers,
                    "body": answer.body,
                }
            )
        return ApiResponse(200, {"responses": responses}, {"Content-Type": "application/json"})


def _status_error(status: int, retry_after: float | None) -> ApiResponse:
    code, message = _STATUS_CODES.get(status, ("UnknownError", "The service failed."))
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = str(
            int(retry_after) if retry_after == int(retry_after) else retry_after
        )
    return graph_error(status, code, message, headers)
