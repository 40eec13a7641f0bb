"""Identity Center behaviour moto lacks, as a WSGI middleware in front of moto's server app.

Each extension is small and keyed on the `X-Amz-Target` header, so it could move into moto's
`ssoadmin`/`identitystore` response classes unchanged in spirit. State of record stays in
moto's backends; the extensions keep only what moto has no place for (request statuses, the
accounts a permission set is provisioned to, fault plans). Calls no extension answers pass
through to moto.

- `async_requests`: asynchronous assignments and provisioning, their Describe*Status calls,
  duplicates, and the accounts a permission set is provisioned to.
- `instance_tags`: `DescribeInstance` and the permission set tag calls.
- `boundaries`: the permission set permissions boundary calls.
- `identity_store`: group membership conflicts and `UpdateGroup`.
- `organizations`: `DescribeAccount` outside an organization.
- `throttling`: latency, rate limit, planned conflicts and call counters for every call except
  those carrying `SEED_HEADER`, which the sandbox's own seeding helpers send.

Isolation: every request is stamped with moto's `x-moto-account-id` header, so each sandbox in
one process has its own backends (unless MOTO_ACCOUNT_ID is set, which moto ranks first).
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from moto.core.exceptions import JsonRESTError

from bridge.sandbox.aws.api import (
    IDS_PREFIX,
    ORG_PREFIX,
    SEED_HEADER,
    SSO_PREFIX,
    ApiError,
    Backends,
    Handler,
)
from bridge.sandbox.aws.async_requests import AsyncRequests
from bridge.sandbox.aws.boundaries import PermissionsBoundaries
from bridge.sandbox.aws.identity_store import IdentityStoreCalls
from bridge.sandbox.aws.instance_tags import InstanceAndTags
from bridge.sandbox.aws.organizations import OrganizationCalls
from bridge.sandbox.aws.throttling import FrontDoor

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_SEED_ENVIRON = "HTTP_" + SEED_HEADER.upper().replace("-", "_")
_REGION = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/")


class IdentityCenterExtensions:
    """The middleware. Its knobs live on `front_door` (latency, rate, conflicts, counters) and
    `async_requests` (delay, failures, duplicates); both may be changed while it serves."""

    def __init__(
        self,
        app: WsgiApp,
        *,
        account_id: str,
        default_region: str,
        async_delay: float = 0.0,
        latency: float = 0.0,
        rate_limit: float | None = None,
        dedupe_assignments: bool = True,
    ) -> None:
        self.app = app
        self.account_id = account_id
        self.default_region = default_region
        backends = Backends(account_id)
        # One lock for every answered call: a request settles and starts under it.
        self._lock = threading.RLock()
        self.front_door = FrontDoor(latency=latency, rate_limit=rate_limit)
        self.async_requests = AsyncRequests(
            backends, self._lock, async_delay=async_delay, dedupe_assignments=dedupe_assignments
        )
        self._handlers: dict[str, Handler] = {
            **self.async_requests.handlers(),
            **InstanceAndTags(backends).handlers(),
            **PermissionsBoundaries(backends).handlers(),
            **IdentityStoreCalls(backends).handlers(),
            **OrganizationCalls(backends).handlers(),
        }

    def reset(self) -> None:
        """Forget requests, provisioned accounts, fault plans and counters."""
        self.async_requests.reset()
        self.front_door.reset()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        # moto ranks this header above the access key: it gives this sandbox its own backends.
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.account_id
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith((SSO_PREFIX, IDS_PREFIX, ORG_PREFIX)):
            return self.app(environ, start_response)
        try:
            result = self._answer(environ, target)
        except ApiError as err:
            return _respond(
                start_response, err.status, {"__type": err.code, "Message": err.message}
            )
        except JsonRESTError as err:  # moto's own errors raised from its backends
            return _respond(
                start_response, err.code, {"__type": err.error_type, "Message": err.message}
            )
        if result is None:
            return self.app(environ, start_response)
        return _respond(start_response, 200, result)

    def _answer(self, environ: dict[str, Any], target: str) -> dict[str, Any] | None:
        """The extension's answer to one Identity Center call; None: moto answers it."""
        body = _read_body(environ)
        region = _region(environ) or self.default_region
        seeding = environ.get(_SEED_ENVIRON) is not None
        if not seeding and not target.startswith(ORG_PREFIX):
            # Identity Center's rate limit and faults are not Organizations'.
            self.front_door.admit(target.split(".", 1)[1])
        with self._lock:
            self.async_requests.settle()
        handler = self._handlers.get(target)
        if handler is None:
            return None
        params = json.loads(body or b"{}")
        with self._lock:
            self.async_requests.seeding = seeding
            return handler(params, region)


def _read_body(environ: dict[str, Any]) -> bytes:
    """Read the body and put it back, so moto reads it again when the call passes through."""
    stream: BinaryIO = environ["wsgi.input"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked upload: read to the end
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _region(environ: dict[str, Any]) -> str | None:
    m = _REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
    return m.group(1) if m else None


def _respond(
    start_response: Callable[..., Any], status: int, payload: dict[str, Any]
) -> list[bytes]:
    data = json.dumps(payload).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("Content-Length", str(len(data))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    if status >= 400:
        headers.append(("x-amzn-ErrorType", str(payload.get("__type", ""))))
    start_response(f"{status} {'OK' if status < 400 else 'Error'}", headers)
    return [data]
