"""Entra's SCIM provisioning to Identity Center, emulated for the sandbox.

`ProvisioningService` watches the Graph sandbox's PIM state and copies each membership change
of the groups in its scope to a SCIM server (`scim.ScimServer`) when it is due, then writes
what Graph shows about it (`provisioning_records`): the synchronization
job's status and a provisioning log entry per export. When is up to its `timing`
(`provisioning_timing`): fixed delays, or Entra's documented behaviour, time-compressed.

    prov = ProvisioningService(graph, scim, groups=[gid], users={oid: upn},
                               activation_delay=0.5, removal_delay=1.5).start()
    ...
    prov.step()  # or let the background thread tick
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Self

from bridge.sandbox.graph.applications import key_credential
from bridge.sandbox.graph.odata import iso
from bridge.sandbox.graph.provisioning_records import (
    APP_NAME,
    MembershipExport,
    ProvisioningJob,
    log_entry,
    synchronization_job,
)
from bridge.sandbox.graph.provisioning_timing import ExportTiming, FixedDelays
from bridge.sandbox.graph.sandbox import GraphSandbox
from bridge.sandbox.graph.scim import ScimServer


@dataclass
class _Export:
    due: datetime
    group_id: str
    principal_id: str
    op: Literal["add", "remove"]


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
        timing: ExportTiming | None = None,
        saml_certificate_expires: datetime | None = None,
        tick: float = 0.05,
    ) -> None:
        """`groups`: Entra group id -> display name in scope; `users`: Entra object id -> UPN;
        `timing`: when changes are exported (default: after the two delays)."""
        self.graph = graph
        self.scim = scim
        self.groups = dict(groups)
        self.users = dict(users)
        self.timing: ExportTiming = timing or FixedDelays(
            timedelta(seconds=activation_delay), timedelta(seconds=removal_delay)
        )
        self.tick = tick
        self.clock = graph.tenant.clock
        self.job = ProvisioningJob()
        self.exported = 0
        self._members: set[tuple[str, str]] = set()
        self._queue: list[_Export] = []
        self._scim_groups: dict[str, str] = {}
        self._scim_users: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._register(saml_certificate_expires)

    @property
    def sp_id(self) -> str:
        """The enterprise app's service principal: what the bridge's config names it by."""
        return self.job.sp_id

    def _register(self, saml_certificate_expires: datetime | None) -> None:
        """The enterprise app with its SAML signing certificate, and its job not run yet."""
        now = self.clock.now()
        thumbprint = secrets.token_hex(20).upper()
        cert_end = saml_certificate_expires or now + timedelta(days=3 * 365)
        with self.graph.tenant.lock:
            self.graph.tenant.service_principals[self.sp_id] = {
                "id": self.sp_id,
                "appId": self.job.app_id,
                "displayName": APP_NAME,
                "preferredTokenSigningKeyThumbprint": thumbprint,
                "keyCredentials": [
                    key_credential("CN=Microsoft Azure Federated SSO Certificate", cert_end, u, t)
                    for u, t in (("Sign", thumbprint), ("Verify", thumbprint))
                ],
                "passwordCredentials": [],
            }
            self.graph.tenant.sync_jobs[self.sp_id] = [self._job(now, None)]

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
                self._queue.append(_Export(self.timing.due("add", now), gid, pid, "add"))
            for gid, pid in sorted(self._members - current):
                self._queue.append(_Export(self.timing.due("remove", now), gid, pid, "remove"))
            self._members = current
            due = [e for e in self._queue if e.due <= now]
            self._queue = [e for e in self._queue if e.due > now]
        for export in due:
            self._export(export)
        return len(due)

    def last_due(self) -> datetime | None:
        """When the last change noticed so far will have been exported (None: none queued)."""
        with self._lock:
            return max((e.due for e in self._queue), default=None)

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
        self.scim.patch_members(scim_group, e.op, self._scim_users[e.principal_id])
        now = self.clock.now()
        export = MembershipExport(
            e.group_id, self.groups[e.group_id], scim_group, e.principal_id, e.op
        )
        with self.graph.tenant.lock:
            self.graph.tenant.provisioning_logs.append(log_entry(self.job, export, now))
            self.exported += 1
            self.graph.tenant.sync_jobs[self.sp_id] = [self._job(now, "Succeeded")]

    def _job(self, now: datetime, state: str | None) -> dict[str, Any]:
        return synchronization_job(
            self.job, now, state, entitled=len(self.users), exported=self.exported
        )
