"""App registrations and their credentials in Graph's shapes (application, keyCredential,
passwordCredential): what `pim-bridge health` reads to warn of a secret or certificate end."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from bridge.sandbox.graph.odata import iso
from bridge.sandbox.graph.sandbox import GraphSandbox


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
    app: dict[str, Any] = {
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
