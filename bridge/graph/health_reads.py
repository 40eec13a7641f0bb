"""Graph reads for health: the SCIM provisioning job, the provisioning logs, and the expiry of
the bridge's own app credentials and of the enterprise app's SAML signing certificate.

Each read returns its value or an `Unreadable` that says why and, for a 403, which application
permission is missing, so a health report degrades to "unknown" instead of failing. Malformed
items are logged and skipped. Provisioning logs allow 5 requests per 10 seconds per tenant: the
reader paces itself to that. Throttling and outages are retried by the `RetryPolicy` every Graph
reader shares, honouring Retry-After.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from azure.core.credentials_async import AsyncTokenCredential

from bridge.config import EntraConfig
from bridge.errors import Unreadable
from bridge.graph.client import GraphSession, Reply, RetryPolicy, get_retried
from bridge.model import MembershipExport

log = logging.getLogger(__name__)

PERMISSIONS = {
    "provisioning": "AuditLog.Read.All",
    "synchronization": "Synchronization.Read.All",
    "applications": "Application.Read.All",
}
LOG_RATE = (5, 10.0)  # provisioning logs: requests per seconds, per tenant
MAX_RETRY_AFTER = 10.0  # a health report is read by a person waiting for it
_NEVER = "0001-01-01"  # Graph's "never" in synchronization job timestamps


@dataclass(frozen=True)
class SyncJob:
    id: str
    code: str  # NotConfigured | NotRun | Active | Paused | Quarantine
    last_success: datetime | None
    steady_state: datetime | None
    consecutive_failures: int
    quarantine: str | None


CredentialKind = Literal["secret", "certificate", "saml"]


@dataclass(frozen=True)
class Credential:
    kind: CredentialKind
    name: str
    key_id: str
    end: datetime


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or value.startswith(_NEVER):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # A moment UTC cannot hold (year 9999 with a negative offset) is as unreadable.
        return parsed.astimezone(UTC) if parsed.tzinfo else None
    except (ValueError, OverflowError):
        return None


def parse_job(item: Any) -> SyncJob | None:
    if not isinstance(item, dict) or not isinstance(item.get("status"), dict):
        return None
    status = item["status"]
    success = status.get("lastSuccessfulExecution")
    quarantine = status.get("quarantine")
    reason = None
    if isinstance(quarantine, dict):
        raw = quarantine.get("error")
        error = raw if isinstance(raw, dict) else {}
        reason = str(error.get("code") or quarantine.get("reason") or "quarantined")
    failures = status.get("countSuccessiveCompleteFailures")
    return SyncJob(
        id=str(item.get("id", "")),
        code=str(status.get("code") or "unknown"),
        last_success=parse_time(success.get("timeEnded")) if isinstance(success, dict) else None,
        steady_state=parse_time(status.get("steadyStateLastAchievedTime")),
        consecutive_failures=int(failures) if isinstance(failures, int) else 0,
        quarantine=reason,
    )


def parse_export(item: Any) -> MembershipExport | Literal[False] | None:
    """A membership export from one provisioning log entry; None when the entry is another
    kind of change (or failed), False when it is malformed."""
    if not isinstance(item, dict):
        return False
    at = parse_time(item.get("activityDateTime"))
    source = item.get("sourceIdentity")
    if at is None or not isinstance(source, dict):
        return False
    status = item.get("provisioningStatusInfo")
    if not isinstance(status, dict) or str(status.get("status", "")).lower() != "success":
        return None
    if str(source.get("identityType", "")).lower() != "group":
        return None
    for prop in item.get("modifiedProperties") or []:
        if not isinstance(prop, dict) or str(prop.get("displayName", "")).lower() != "members":
            continue
        added, removed = _ids(prop.get("newValue")), _ids(prop.get("oldValue"))
        for principal in added - removed:
            return MembershipExport(str(source.get("id", "")), principal, "add", at)
        for principal in removed - added:
            return MembershipExport(str(source.get("id", "")), principal, "remove", at)
    return None


def _ids(value: Any) -> set[str]:
    if not value:
        return set()
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        parsed = str(value).split(",")
    if isinstance(parsed, str):
        parsed = [parsed]
    return {str(v).strip() for v in parsed if str(v).strip()} if isinstance(parsed, list) else set()


def parse_credentials(
    obj: Any, kinds: tuple[CredentialKind, CredentialKind] = ("secret", "certificate")
) -> list[Credential]:
    out: list[Credential] = []
    if not isinstance(obj, dict):
        return out
    for field, kind in (("passwordCredentials", kinds[0]), ("keyCredentials", kinds[1])):
        for c in obj.get(field) or []:
            end = parse_time(c.get("endDateTime")) if isinstance(c, dict) else None
            if end is None:
                log.warning("skipped a %s without a valid endDateTime", field)
                continue
            out.append(
                Credential(kind, str(c.get("displayName") or ""), str(c.get("keyId") or ""), end)
            )
    return out


def saml_signing_certificate(sp: Any) -> Credential | None:
    """v1.0 has no flag for the active SAML certificate: it is the key whose thumbprint (its
    customKeyIdentifier, base64) equals preferredTokenSigningKeyThumbprint."""
    if not isinstance(sp, dict):
        return None
    wanted = str(sp.get("preferredTokenSigningKeyThumbprint") or "").upper()
    for c in sp.get("keyCredentials") or []:
        if not isinstance(c, dict) or not c.get("customKeyIdentifier"):
            continue
        try:
            thumb = base64.b64decode(str(c["customKeyIdentifier"])).hex().upper()
        except (binascii.Error, ValueError):
            continue
        end = parse_time(c.get("endDateTime"))
        if wanted and thumb == wanted and end is not None:
            return Credential("saml", str(c.get("displayName") or ""), str(c.get("keyId", "")), end)
    return None


class GraphHealthReader:
    """Synchronous reads through a `GraphSession` (msgraph-sdk is asyncio), like the PIM source."""

    def __init__(
        self,
        entra: EntraConfig,
        *,
        credential: AsyncTokenCredential | None = None,
        max_retries: int = 2,
        backoff: float = 1.0,
        page_limit: int = 20,
        session: GraphSession | None = None,
    ) -> None:
        """`session` shares another reader's connection (it is then not closed here);
        without one the reader opens its own, with `credential` or the configured one."""
        if session is not None and credential is not None:
            raise ValueError("pass a credential or a session, not both")
        self.retry = RetryPolicy(
            max_retries=max_retries, backoff=backoff, max_delay=MAX_RETRY_AFTER
        )
        self.page_limit = page_limit
        self._owns_session = session is None
        self._session = session or GraphSession(entra, credential, name="graph-health")
        self._lock = threading.Lock()
        self._log_calls: deque[float] = deque()

    # -- reads ---------------------------------------------------------------------------------

    def sync_job(self, sp_id: str) -> SyncJob | Unreadable:
        reply = self._get(f"/servicePrincipals/{quote(sp_id)}/synchronization/jobs")
        if not reply.ok:
            return _unreadable(reply, "synchronization")
        jobs = [j for item in _values(reply) if (j := parse_job(item)) is not None]
        if not jobs:
            return Unreadable("the provisioning app has no synchronization job")
        return jobs[0]

    def membership_exports(
        self, sp_id: str, since: datetime
    ) -> list[MembershipExport] | Unreadable:
        stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        expr = f"servicePrincipal/id eq '{sp_id}' and activityDateTime ge {stamp}"
        url: str | None = "/auditLogs/provisioning?$filter=" + quote(expr, safe="/:'")
        out: list[MembershipExport] = []
        skipped = pages = 0
        while url and pages < self.page_limit:
            reply = self._get(url, paced=True)
            if not reply.ok:
                return _unreadable(reply, "provisioning")
            for item in _values(reply):
                parsed = parse_export(item)
                if parsed is False:
                    skipped += 1
                elif parsed is not None:
                    out.append(parsed)
            link = reply.body.get("@odata.nextLink") if isinstance(reply.body, dict) else None
            url = self._session.relative(link) if isinstance(link, str) else None
            pages += 1
        if skipped:
            log.warning("skipped %d malformed provisioning log entries", skipped)
        return out

    def app_credentials(self, client_id: str) -> list[Credential] | Unreadable:
        reply = self._get(
            f"/applications(appId='{quote(client_id)}')"
            "?$select=displayName,passwordCredentials,keyCredentials"
        )
        if not reply.ok:
            return _unreadable(reply, "applications")
        return parse_credentials(reply.body)

    def saml_certificate(self, sp_id: str) -> Credential | Unreadable | None:
        reply = self._get(
            f"/servicePrincipals/{quote(sp_id)}"
            "?$select=keyCredentials,preferredTokenSigningKeyThumbprint"
        )
        if not reply.ok:
            return _unreadable(reply, "applications")
        return saml_signing_certificate(reply.body)

    # -- plumbing ------------------------------------------------------------------------------

    def _get(self, url: str, *, paced: bool = False) -> Reply:
        return get_retried(self._session, self.retry, url, self._pace if paced else None)

    def _pace(self) -> None:
        limit, window = LOG_RATE
        with self._lock:
            now = time.monotonic()
            while self._log_calls and now - self._log_calls[0] >= window:
                self._log_calls.popleft()
            wait = window - (now - self._log_calls[0]) if len(self._log_calls) >= limit else 0.0
            self._log_calls.append(now + wait)
        if wait > 0:
            time.sleep(wait)

    def close(self) -> None:
        if self._owns_session:
            self._session.close()


def _values(reply: Reply) -> list[Any]:
    value = reply.body.get("value") if isinstance(reply.body, dict) else None
    return value if isinstance(value, list) else []


def _unreadable(reply: Reply, area: str) -> Unreadable:
    return Unreadable(reply.error_text(), PERMISSIONS[area] if reply.status == 403 else None)
