"""Entra's SCIM provisioning to Identity Center, emulated for the sandbox.

`ScimServer` is scim2-server on 127.0.0.1 under `/scim/v2` with a bearer token, standing in for
Identity Center's SCIM endpoint. `ProvisioningService` watches the Graph sandbox's PIM state
and copies each membership change of the groups in its scope to that server after a delay,
activations sooner than removals (Entra exports additions within minutes and removals in its
regular cycle), then writes what Graph shows about it: the synchronization job's status and a
provisioning log entry per export.

What a membership export looks like in the logs is not in Microsoft's samples; the emulator
writes an `update` of the Group with a `members` modified property holding the principal's
object id (newValue on add, oldValue on remove), which is what the bridge's parser reads.

    prov = ProvisioningService(graph, scim, groups=[gid], users={oid: upn},
                               activation_delay=0.5, removal_delay=1.5).start()
    ...
    prov.step()  # or let the background thread tick
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Literal, Self
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    Group,
    GroupMember,
    PatchOp,
    PatchOperation,
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

from bridge.sandbox.graph.routes import iso
from bridge.sandbox.graph.sandbox import GraphSandbox

SCIM_PATH = "/scim/v2"
APP_NAME = "AWS IAM Identity Center"


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
        created = self.client.create(User(user_name=user_name, display_name=display_name))
        return str(created.id)  # type: ignore[union-attr]

    def add_group(self, display_name: str) -> str:
        created = self.client.create(Group(display_name=display_name))
        return str(created.id)  # type: ignore[union-attr]

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


@dataclass
class _Export:
    due: datetime
    group_id: str
    principal_id: str
    op: Literal["add", "remove"]


def _thumbprint_identifier(thumbprint: str) -> str:
    # keyCredential.customKeyIdentifier carries the certificate's SHA-1 thumbprint, base64.
    return base64.b64encode(bytes.fromhex(thumbprint)).decode()


def key_credential(
    display_name: str, end: datetime, usage: str, thumbprint: str | None = None
) -> dict[str, Any]:
    thumbprint = thumbprint or secrets.token_hex(20).upper()
    return {
        "customKeyIdentifier": _thumbprint_identifier(thumbprint),
        "displayName": display_name,
        "endDateTime": iso(end),
        "key": None,
        "keyId": str(uuid.uuid4()),
        "startDateTime": iso(end - timedelta(days=365)),
        "type": "AsymmetricX509Cert",
        "usage": usage,
    }


def password_credential(display_name: str, end: datetime) -> dict[str, Any]:
    return {
        "customKeyIdentifier": None,
        "displayName": display_name,
        "endDateTime": iso(end),
        "hint": secrets.token_urlsafe(2)[:3],
        "keyId": str(uuid.uuid4()),
        "secretText": None,  # Graph returns the secret only once, from addPassword
        "startDateTime": iso(end - timedelta(days=365)),
    }


def register_application(
    graph: GraphSandbox,
    display_name: str,
    *,
    secret_expires: datetime | None = None,
    certificate_expires: datetime | None = None,
    app_id: str | None = None,
) -> str:
    """An app registration (GET /applications(appId='…')) with a client secret and a
    certificate ending when given. Returns its appId."""
    app_id = app_id or str(uuid.uuid4())
    app = {
        "id": str(uuid.uuid4()),
        "appId": app_id,
        "displayName": display_name,
        "passwordCredentials": (
            [password_credential("pim-bridge secret", secret_expires)] if secret_expires else []
        ),
        "keyCredentials": (
            [key_credential("CN=pim-bridge", certificate_expires, "Verify")]
            if certificate_expires
            else []
        ),
    }
    with graph.tenant.lock:
        graph.tenant.applications[app["id"]] = app
    return app_id


class ProvisioningService:
    """Entra's provisioning job for the Identity Center enterprise app, on the sandbox's clock."""

    def __init__(
        self,
        graph: GraphSandbox,
        scim: ScimServer,
        groups: dict[str, str],
        users: dict[str, str],
        *,
        activation_delay: float = 0.5,
        removal_delay: float = 1.5,
        saml_certificate_expires: datetime | None = None,
        tick: float = 0.05,
    ) -> None:
        """`groups`: Entra group id -> display name in scope; `users`: Entra object id -> UPN."""
        self.graph = graph
        self.scim = scim
        self.groups = dict(groups)
        self.users = dict(users)
        self.activation_delay = timedelta(seconds=activation_delay)
        self.removal_delay = timedelta(seconds=removal_delay)
        self.tick = tick
        self.clock = graph.tenant.clock
        self.sp_id = str(uuid.uuid4())
        self.app_id = str(uuid.uuid4())
        self.job_id = f"aws.{uuid.uuid4().hex}.{self.app_id}"
        self.tenant_id = str(uuid.uuid4())
        self.cycle_id = str(uuid.uuid4())
        self.exported = 0
        self._members: set[tuple[str, str]] = set()
        self._queue: list[_Export] = []
        self._scim_groups: dict[str, str] = {}
        self._scim_users: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        now = self.clock.now()
        thumbprint = secrets.token_hex(20).upper()
        cert_end = saml_certificate_expires or now + timedelta(days=3 * 365)
        with graph.tenant.lock:
            graph.tenant.service_principals[self.sp_id] = {
                "id": self.sp_id,
                "appId": self.app_id,
                "displayName": APP_NAME,
                "preferredTokenSigningKeyThumbprint": thumbprint,
                "keyCredentials": [
                    key_credential("CN=Microsoft Azure Federated SSO Certificate", cert_end, u, t)
                    for u, t in (("Sign", thumbprint), ("Verify", thumbprint))
                ],
                "passwordCredentials": [],
            }
            graph.tenant.sync_jobs[self.sp_id] = [self._job(now, None)]

    # -- lifecycle -----------------------------------------------------------------------------

    def seed(self) -> Self:
        """Create every in-scope user and group on the SCIM server, as the first full cycle."""
        for oid, upn in self.users.items():
            self._scim_users[oid] = self.scim.user_id(upn) or self.scim.add_user(upn)
        for gid, name in self.groups.items():
            self._scim_groups[gid] = self.scim.add_group(name)
        with self.graph.tenant.lock:
            self.graph.tenant.sync_jobs[self.sp_id] = [self._job(self.clock.now(), "Succeeded")]
        return self

    def start(self) -> Self:
        if not self._scim_groups:
            self.seed()
        self._thread = threading.Thread(target=self._loop, name="provisioning", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            self.step()

    # -- one tick ------------------------------------------------------------------------------

    def step(self) -> int:
        """Notice membership changes and export the ones that are due. Returns exports done."""
        now = self.clock.now()
        current = {
            (i.group_id, i.principal_id)
            for gid in self.groups
            for i in self.graph.tenant.live_instances(gid, None)
            if i.access_id == "member" and i.principal_id in self.users
        }
        with self._lock:
            for gid, pid in sorted(current - self._members):
                self._queue.append(_Export(now + self.activation_delay, gid, pid, "add"))
            for gid, pid in sorted(self._members - current):
                self._queue.append(_Export(now + self.removal_delay, gid, pid, "remove"))
            self._members = current
            due = [e for e in self._queue if e.due <= now]
            self._queue = [e for e in self._queue if e.due > now]
        for export in due:
            self._export(export)
        return len(due)

    def quarantine(self, reason: str = "EncounteredQuarantineException") -> None:
        """The job goes into quarantine, as after repeated 401s from the SCIM endpoint."""
        now = self.clock.now()
        with self.graph.tenant.lock:
            job = self.graph.tenant.sync_jobs[self.sp_id][0]
            job["status"]["code"] = "Quarantine"
            job["status"]["countSuccessiveCompleteFailures"] += 1
            job["status"]["quarantine"] = {
                "currentBegan": iso(now),
                "nextAttempt": iso(now + timedelta(hours=1)),
                "reason": reason,
                "seriesBegan": iso(now),
                "seriesCount": 1,
                "error": {
                    "code": "SystemForCrossDomainIdentityManagementCredentialsInvalid",
                    "message": "The credentials for the SCIM endpoint are invalid.",
                    "tenantActionable": True,
                },
            }

    def _export(self, e: _Export) -> None:
        scim_group = self._scim_groups[e.group_id]
        scim_user = self._scim_users[e.principal_id]
        self.scim.patch_members(scim_group, e.op, scim_user)
        now = self.clock.now()
        member = json.dumps([e.principal_id])
        name = self.groups[e.group_id]
        entry = {
            "id": str(uuid.uuid4()),
            "activityDateTime": iso(now),
            "tenantId": self.tenant_id,
            "jobId": self.job_id,
            "cycleId": self.cycle_id,
            "changeId": str(uuid.uuid4()),
            "provisioningAction": "update",
            "durationInMilliseconds": 180,
            "sourceSystem": {
                "id": str(uuid.uuid4()),
                "displayName": "Azure Active Directory",
                "details": {},
            },
            "targetSystem": {
                "id": str(uuid.uuid4()),
                "displayName": APP_NAME,
                "details": {
                    "ApplicationId": self.app_id,
                    "ServicePrincipalId": self.sp_id,
                    "ServicePrincipalDisplayName": APP_NAME,
                },
            },
            "initiatedBy": {
                "id": "",
                "displayName": "Azure AD Provisioning Service",
                "initiatingType": "system",
            },
            "servicePrincipal": {"id": self.sp_id, "displayName": APP_NAME},
            "sourceIdentity": {
                "id": e.group_id,
                "displayName": name,
                "identityType": "Group",
                "details": {},
            },
            "targetIdentity": {
                "id": scim_group,
                "displayName": name,
                "identityType": "Group",
                "details": {},
            },
            "provisioningStatusInfo": {"status": "success", "errorInformation": None},
            "provisioningSteps": [
                {
                    "name": "EntryExportUpdate",
                    "provisioningStepType": "export",
                    "status": "success",
                    "description": f"Group '{name}' was updated in {APP_NAME}",
                    "details": {"ReportableIdentifier": name},
                }
            ],
            "modifiedProperties": [
                {
                    "displayName": "members",
                    "oldValue": member if e.op == "remove" else None,
                    "newValue": member if e.op == "add" else None,
                }
            ],
        }
        with self.graph.tenant.lock:
            self.graph.tenant.provisioning_logs.append(entry)
            self.exported += 1
            self.graph.tenant.sync_jobs[self.sp_id] = [self._job(now, "Succeeded")]

    def _job(self, now: datetime, state: str | None) -> dict[str, Any]:
        """The synchronizationJob as `GET …/synchronization/jobs` returns it (sync-job-get)."""
        execution = (
            None
            if state is None
            else {
                "activityIdentifier": self.cycle_id,
                "countEntitled": len(self.users),
                "countExported": self.exported,
                "error": None,
                "state": state,
                "timeBegan": iso(now - timedelta(milliseconds=200)),
                "timeEnded": iso(now),
            }
        )
        return {
            "id": self.job_id,
            "templateId": "aws",
            "schedule": {"expiration": None, "interval": "PT40M", "state": "Active"},
            "status": {
                "code": "Active" if state else "NotRun",
                "countSuccessiveCompleteFailures": 0,
                "escrowsPruned": False,
                "synchronizedEntryCountByType": [],
                "lastExecution": execution,
                "lastSuccessfulExecution": execution,
                "lastSuccessfulExecutionWithExports": execution if self.exported else None,
                "progress": [],
                "steadyStateFirstAchievedTime": iso(now) if state else "0001-01-01T00:00:00Z",
                "steadyStateLastAchievedTime": iso(now) if state else "0001-01-01T00:00:00Z",
                "quarantine": None,
                "troubleshootingUrl": None,
            },
            "synchronizationJobSettings": [],
        }
