"""The one session with Microsoft Graph every reader uses: an event loop in a daemon thread
(msgraph-sdk is asyncio, the bridge's readers are synchronous), the wire built on it, the
credential, and the retry policy with its Retry-After parsing.

The wire is msgraph-sdk's request adapter (auth, telemetry, redirects) with the SDK's own retry
switched off, so one policy (`RetryPolicy`) governs direct calls and `$batch` sub-responses,
which the SDK never retries. Responses are handed back raw (status, headers, JSON) because
msgraph-core's batch response model drops JSON bodies of sub-responses, and one parser for
both paths keeps them identical.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from azure.core.credentials_async import AsyncTokenCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method
from kiota_abstractions.native_response_handler import NativeResponseHandler
from kiota_abstractions.request_information import RequestInformation
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from kiota_http.middleware.options import ResponseHandlerOption, RetryHandlerOption
from msgraph.generated.groups.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.generated.identity_governance.privileged_access.group.assignment_schedule_instances.assignment_schedule_instances_request_builder import (  # noqa: E501
    AssignmentScheduleInstancesRequestBuilder,
)
from msgraph.generated.identity_governance.privileged_access.group.assignment_schedule_requests.assignment_schedule_requests_request_builder import (  # noqa: E501
    AssignmentScheduleRequestsRequestBuilder,
)
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import GraphClientFactory

from bridge.config import EntraConfig
from bridge.graph.credentials import build_credential, graph_scopes
from bridge.redact import redact
from bridge.retry_after import retry_after_seconds

BATCH_SIZE = 20  # Graph's JSON batching limit
# Throttling and outages; every other status is Graph's answer and trying again will not help.
RETRYABLE = frozenset({429, 502, 503, 504})
T = TypeVar("T")


@dataclass(frozen=True)
class Reply:
    """One Graph response, direct or from inside a `$batch`."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    # Why no response came back at all (a dead port, a timeout): the status is then only
    # how it is retried, and must not be shown as if Graph had sent it.
    unreachable: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def error_text(self) -> str:
        """Graph's error code and message, redacted: never headers, and not what a message
        may echo of the request (its Authorization header, a token, a secret)."""
        if self.unreachable:
            return self.unreachable
        error = self.body.get("error") if isinstance(self.body, dict) else None
        status = f"HTTP {self.status}" if self.status else "no response"
        if isinstance(error, dict):
            return redact(f"{status} {error.get('code', '')}: {error.get('message', '')}".strip())
        return status


def call_failure(exc: Exception) -> Reply:
    """A call that produced no HTTP response. Network failures are retried like a 503; a
    credential or client failure (status 0) is not, and fails the read with its reason.
    The message is redacted all the same: an identity endpoint's answer may repeat the form it
    was posted."""
    message = redact(str(exc).splitlines()[0])[:300] if str(exc) else ""
    body = {"error": {"code": type(exc).__name__, "message": message}}
    if isinstance(exc, httpx.TransportError):
        return Reply(503, {}, body, unreachable=_unreachable(exc, message))
    return Reply(0, {}, body)


def _unreachable(exc: httpx.TransportError, message: str) -> str:
    """`cannot connect to host:port: why`, in the words an operator searches for."""
    try:
        url = exc.request.url
        where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    except RuntimeError:  # an exception raised before its request was attached
        where = "Graph"
    if _caused_by(exc, ConnectionRefusedError) or "refused" in message.lower():
        why = "connection refused"
    elif isinstance(exc, httpx.TimeoutException):
        why = "timed out"
    else:
        why = message or type(exc).__name__
    return f"cannot connect to {where}: {why}"


def get_retried(
    session: GraphSession,
    retry: RetryPolicy,
    url: str,
    before: Callable[[], None] | None = None,
) -> Reply:
    """One GET through `session` from synchronous code, tried again as `retry` allows; a call
    that produced no response comes back as a failed reply. `before` runs before every try
    (a reader that paces itself)."""
    attempts = 0
    while True:
        if before is not None:
            before()
        try:
            reply = session.run(session.get(url))
        except Exception as exc:
            reply = call_failure(exc)
        if not retry.allows(reply, attempts):
            return reply
        time.sleep(retry.delay(reply, attempts))
        attempts += 1


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is in the chain of causes: httpx words a refused connection as "All
    connection attempts failed" and keeps the refusal beneath."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_after(reply: Reply, now: Callable[[], float] = time.time) -> float | None:
    """The seconds the reply's `Retry-After` header asks to wait (None: it asks nothing)."""
    return retry_after_seconds(reply.header("Retry-After"), now)


@dataclass(frozen=True)
class RetryPolicy:
    """Whether a failed call is tried again and after how long, the same for every reader."""

    max_retries: int = 5
    backoff: float = 1.0  # the first wait when Graph sends no Retry-After; doubles per retry
    max_backoff: float = 30.0
    max_delay: float = 60.0  # a longer Retry-After is honoured only up to this

    def retryable(self, reply: Reply) -> bool:
        return reply.status in RETRYABLE

    def allows(self, reply: Reply, attempts: int) -> bool:
        """Whether a call that already failed `attempts` times may be tried once more."""
        return self.retryable(reply) and attempts < self.max_retries

    def delay(self, reply: Reply, attempts: int) -> float:
        wait = retry_after(reply)
        if wait is None:
            wait = min(self.backoff * 2**attempts, self.max_backoff)
        return min(wait, self.max_delay)


class GraphWire:
    """Sends GETs and `$batch` POSTs through msgraph-sdk; owns the event-loop-bound client."""

    def __init__(
        self, entra: EntraConfig, credential: AsyncTokenCredential, timeout: float = 30.0
    ) -> None:
        self.base_url = entra.graph_base_url
        host = urlsplit(self.base_url).hostname or ""
        auth = AzureIdentityAuthenticationProvider(
            credential, scopes=graph_scopes(entra), allowed_hosts=[host]
        )
        # msgraph-core wraps the client's transport in one whose aclose() does not close the
        # wrapped pool, so the wire keeps the pool to close its connections itself.
        self._pool = httpx.AsyncHTTPTransport()
        http = GraphClientFactory.create_with_default_middleware(
            client=httpx.AsyncClient(timeout=timeout, transport=self._pool),
            options={
                RetryHandlerOption.get_key(): RetryHandlerOption(
                    delay=0, max_retries=0, should_retry=False
                )
            },
        )
        adapter = GraphRequestAdapter(auth, client=http)
        adapter.base_url = self.base_url
        self.client = GraphServiceClient(request_adapter=adapter)
        self._adapter = adapter
        self._http = http
        self._urls: dict[tuple[str, str], str] = {}  # (listing, group id) -> relative URL

    async def close(self) -> None:
        await self._http.aclose()
        await self._pool.aclose()

    # -- URLs, built by the SDK's request builders ---------------------------------------------

    def instances_url(self, group_id: str) -> str:
        return self._per_group("instances", group_id, self._instances_url)

    def requests_url(self, group_id: str) -> str:
        return self._per_group("requests", group_id, self._requests_url)

    def _per_group(self, listing: str, group_id: str, build: Callable[[str], str]) -> str:
        # Built once per group: the SDK's URI templates cost more than the page they ask for.
        url = self._urls.get((listing, group_id))
        if url is None:
            url = self._urls[(listing, group_id)] = build(group_id)
        return url

    def _instances_url(self, group_id: str) -> str:
        params = AssignmentScheduleInstancesRequestBuilder.AssignmentScheduleInstancesRequestBuilderGetQueryParameters(  # noqa: E501
            filter=f"groupId eq '{odata_literal(group_id)}'", expand=["principal"]
        )
        builder = self.client.identity_governance.privileged_access.group
        info = builder.assignment_schedule_instances.to_get_request_information(_config(params))
        return self.relative(info.url)

    def _requests_url(self, group_id: str) -> str:
        params = AssignmentScheduleRequestsRequestBuilder.AssignmentScheduleRequestsRequestBuilderGetQueryParameters(  # noqa: E501
            filter=f"groupId eq '{odata_literal(group_id)}'"
        )
        builder = self.client.identity_governance.privileged_access.group
        info = builder.assignment_schedule_requests.to_get_request_information(_config(params))
        return self.relative(info.url)

    def delta_url(self, group_ids: Sequence[str]) -> str:
        """A membership delta query's first round: `members` of the groups named."""
        clauses = " or ".join(f"id eq '{odata_literal(g)}'" for g in group_ids)
        params = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            select=["members"], filter=clauses
        )
        info = self.client.groups.delta.to_get_request_information(_config(params))
        return self.relative(info.url)

    def user_url(self, user_id: str) -> str:
        builder = self.client.users.by_user_id(user_id)
        return self.relative(builder.to_get_request_information().url)

    def relative(self, url: str) -> str:
        return relative_url(self.base_url, url)

    # -- calls ---------------------------------------------------------------------------------

    async def get(self, relative_url: str) -> Reply:
        info = RequestInformation(Method.GET)
        info.url = self.base_url + relative_url
        info.headers.try_add("Accept", "application/json")
        return await self._send(info)

    async def post(self, relative_url: str, body: Any) -> Reply:
        info = RequestInformation(Method.POST)
        info.url = self.base_url + relative_url
        info.headers.try_add("Accept", "application/json")
        info.set_stream_content(json.dumps(body).encode(), "application/json")
        return await self._send(info)

    async def batch(self, requests: list[tuple[str, str]]) -> dict[str, Reply]:
        """GET each `(id, relative_url)` in one `$batch`; a reply per id. A failed envelope is
        returned as the same reply for every id, so callers handle one kind of failure."""
        if len(requests) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} requests per batch")
        payload = {"requests": [{"id": i, "method": "GET", "url": u} for i, u in requests]}
        info = RequestInformation(Method.POST)
        info.url = self.base_url + "/$batch"
        info.headers.try_add("Accept", "application/json")
        info.set_stream_content(json.dumps(payload).encode(), "application/json")
        envelope = await self._send(info)
        if not envelope.ok:
            return {i: envelope for i, _ in requests}
        out: dict[str, Reply] = {}
        responses = envelope.body.get("responses") if isinstance(envelope.body, dict) else None
        for item in responses if isinstance(responses, list) else []:
            if isinstance(item, dict) and str(item.get("id")) in dict(requests):
                raw = item.get("headers")
                headers = raw if isinstance(raw, dict) else {}
                out[str(item["id"])] = Reply(
                    int(item.get("status") or 0),
                    {str(k): str(v) for k, v in headers.items()},
                    item.get("body"),
                )
        for request_id, _ in requests:
            # A sub-response Graph left out is a failure of that request, retried like a 503.
            out.setdefault(request_id, Reply(503, {}, None))
        return out

    async def _send(self, info: RequestInformation) -> Reply:
        info.add_request_options([ResponseHandlerOption(NativeResponseHandler())])
        response: httpx.Response = await self._adapter.send_primitive_async(info, "bytes", None)
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        return Reply(response.status_code, dict(response.headers), body)


class GraphSession:
    """A reader's connection to Graph: the event loop thread, the wire on it, the credential.

    The loop starts on first use. The wire is built on the loop's thread because httpx and
    azure-identity bind to the running loop; `wire()` is for coroutines run through `run()`.
    """

    def __init__(
        self,
        entra: EntraConfig,
        credential: AsyncTokenCredential | None = None,
        *,
        name: str = "graph",
        timeout: float = 30.0,
    ) -> None:
        self._entra = entra
        self.base_url = entra.graph_base_url
        # Built now so a missing secret or token is a config error before any call.
        self._credential = credential or build_credential(entra)
        self._name = name
        self._timeout = timeout
        self._wire: GraphWire | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the session's loop and wait for its result, from any thread."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def wire(self) -> GraphWire:
        if self._wire is None:
            self._wire = GraphWire(self._entra, self._credential, self._timeout)
        return self._wire

    async def get(self, relative_url: str) -> Reply:
        return await self.wire().get(relative_url)

    async def post(self, relative_url: str, body: Any) -> Reply:
        return await self.wire().post(relative_url, body)

    def relative(self, url: str) -> str:
        return relative_url(self.base_url, url)

    def close(self) -> None:
        """Close the HTTP client and the credential and stop the loop; a later call restarts it."""
        loop = self._loop
        if loop is None:
            return
        self.run(self._aclose())
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if not loop.is_running():
            loop.close()  # its selector and self-pipe sockets; a stopped loop is not reused
        self._loop = self._thread = None

    async def _aclose(self) -> None:
        if self._wire is not None:
            await self._wire.close()
            self._wire = None
        await self._credential.close()


def relative_url(base_url: str, url: str) -> str:
    """`/path?query` under the version segment, as `$batch` wants it; nextLinks are absolute."""
    if url.startswith(base_url):
        return url[len(base_url) :] or "/"
    parts = urlsplit(url)
    base_path = urlsplit(base_url).path
    path = parts.path[len(base_path) :] if parts.path.startswith(base_path) else parts.path
    return path + (f"?{parts.query}" if parts.query else "")


def _config(params: Any) -> RequestConfiguration[Any]:
    return RequestConfiguration(query_parameters=params)


def odata_literal(value: str) -> str:
    # OData string literals double their single quotes.
    return value.replace("'", "''")
