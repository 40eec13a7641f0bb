"""The azure-identity credential the bridge uses for Microsoft Graph, built from `[entra]`.

Every credential is the async flavour: msgraph-sdk runs on asyncio and awaits `get_token`.
"""

from __future__ import annotations

import os
import time
from types import TracebackType
from typing import Any

from azure.core.credentials import AccessToken
from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import (
    CertificateCredential,
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from bridge.config import GRAPH_CLOUDS, EntraConfig
from bridge.errors import ConfigError

STATIC_TOKEN_ENV = "PIM_BRIDGE_GRAPH_TOKEN"


def graph_scopes(entra: EntraConfig) -> list[str]:
    """The `.default` scope of the cloud's Graph host: the app's granted permissions.

    The scope names the cloud, not `graph_url`, so a sandbox or proxy URL never changes what
    token a real credential asks for."""
    return [GRAPH_CLOUDS[entra.cloud][0] + "/.default"]


class StaticTokenCredential(AsyncTokenCredential):
    """A fixed bearer token from the environment, for the sandbox and tests only."""

    def __init__(self, token: str, lifetime_seconds: int = 3600) -> None:
        self._token = token
        self._lifetime = lifetime_seconds

    def __repr__(self) -> str:
        return "StaticTokenCredential(<token hidden>)"

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + self._lifetime)

    async def close(self) -> None:
        return None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        return None


def build_credential(
    entra: EntraConfig, environ: dict[str, str] | None = None
) -> AsyncTokenCredential:
    """The credential `entra.credential` names. Raises ConfigError when a needed input is
    missing (ids and secrets are checked by the config model; the static token here)."""
    env = os.environ if environ is None else environ
    authority = entra.authority_host
    kind = entra.credential
    if kind == "static":
        token = env.get(STATIC_TOKEN_ENV, "").strip()
        if not token:
            raise ConfigError(
                "entra.credential",
                f"credential = 'static' needs the token in env {STATIC_TOKEN_ENV}",
            )
        return StaticTokenCredential(token)
    if kind == "client_secret":
        if entra.client_secret is None:
            raise ConfigError(
                "entra.client_secret", "set it in env PIM_BRIDGE_ENTRA__CLIENT_SECRET"
            )
        return ClientSecretCredential(
            entra.tenant_id,
            entra.client_id,
            entra.client_secret.get_secret_value(),
            authority=authority,
        )
    if kind == "certificate":
        if not os.path.isfile(entra.certificate_path):
            raise ConfigError("entra.certificate_path", f"file not found: {entra.certificate_path}")
        return CertificateCredential(
            entra.tenant_id,
            entra.client_id,
            certificate_path=entra.certificate_path,
            authority=authority,
        )
    if kind == "workload_identity":
        # Reads AZURE_FEDERATED_TOKEN_FILE; azure-identity re-reads that file every 10 minutes.
        return WorkloadIdentityCredential(
            tenant_id=entra.tenant_id, client_id=entra.client_id, authority=authority
        )
    if kind == "managed_identity":
        # A client id selects a user-assigned identity; without one, the system-assigned.
        return ManagedIdentityCredential(client_id=entra.client_id or None)
    return DefaultAzureCredential(authority=authority)
