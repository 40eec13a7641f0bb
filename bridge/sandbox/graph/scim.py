"""Identity Center's SCIM endpoint, stood in for by scim2-server on 127.0.0.1 under `/scim/v2`
with a bearer token; Entra's provisioning (`provisioning.ProvisioningService`) writes to it."""

from __future__ import annotations

import secrets
import threading
from types import TracebackType
from typing import Any, Literal, Self
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    Error,
    Group,
    GroupMember,
    PatchOp,
    PatchOperation,
    Resource,
    ScimProvider,
    SearchRequest,
    User,
)
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.testserver.cli import ThreadingWSGIServer
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware

SCIM_PATH = "/scim/v2"


def _id_of(created: Resource[Any] | Error | dict[str, Any]) -> str:
    # scim2-client raises SCIM errors and validates answers by default, so a resource comes
    # back; an Error or a raw dict is returned only with those checks turned off.
    if not isinstance(created, Resource):
        raise TypeError(f"SCIM create answered {created!r}, not a resource")
    return str(created.id)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ScimServer:
    """scim2-server on loopback, behind the path Identity Center uses."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)
        config = load_default_service_provider_config()
        config.authentication_schemes = [
            *(config.authentication_schemes or []),
            BEARER_TOKEN_SCHEME,
        ]
        provider = ScimProvider.from_discovery(
            load_default_schemas().values(), load_default_resource_types().values(), config=config
        )
        self.storage = InMemoryStorage()
        self.app = BearerTokenApplication(
            self.storage,
            provider,
            ScimService(provider, secret=secrets.token_urlsafe(16)),
            bearer_tokens=[self.token],
        )
        self._server = make_server(
            "127.0.0.1",
            0,
            DispatcherMiddleware(NotFound(), {SCIM_PATH: self.app}),
            server_class=ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
        self._thread: threading.Thread | None = None
        self._client: SyncSCIMClient | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{SCIM_PATH}"

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="scim-sandbox", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def rotate_token(self) -> str:
        """Accept only a new token from now on: the old one answers 401, as after a rotation."""
        self.token = secrets.token_urlsafe(32)
        self.app.bearer_tokens = {self.token}
        self._client = None
        return self.token

    @property
    def client(self) -> SyncSCIMClient:
        """What Entra's provisioning uses: scim2-client over real HTTP with the current token."""
        if self._client is None:
            http = httpx2.Client(
                base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
            )
            self._client = SyncSCIMClient(http, provider=ScimProvider(models=[User, Group]))
        return self._client

    def add_user(self, user_name: str, display_name: str | None = None) -> str:
        return _id_of(self.client.create(User[Any](user_name=user_name, display_name=display_name)))

    def add_group(self, display_name: str) -> str:
        return _id_of(self.client.create(Group(display_name=display_name)))

    def user_id(self, user_name: str) -> str | None:
        found = self.client.query(
            User, query_parameters=SearchRequest(filter=f'userName eq "{user_name}"')
        )
        resources = getattr(found, "resources", None) or []
        return str(resources[0].id) if resources else None

    def members(self, group_id: str) -> set[str]:
        group = self.client.query(Group, group_id)
        return {str(m.value) for m in (getattr(group, "members", None) or [])}

    def patch_members(self, group_id: str, op: Literal["add", "remove"], user_id: str) -> None:
        if op == "add":
            operation: PatchOperation[Group] = PatchOperation[Group](
                op=PatchOperation.Op.add, path="members", value=[GroupMember(value=user_id)]
            )
        else:
            operation = PatchOperation[Group](
                op=PatchOperation.Op.remove, path=f'members[value eq "{user_id}"]'
            )
        self.client.modify(Group, group_id, PatchOp[Group](operations=[operation]))
