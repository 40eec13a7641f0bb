"""The Graph credential chosen by `[entra] credential`, and its scope per cloud."""

from __future__ import annotations

import asyncio

import pytest
from azure.identity.aio import (
    ClientSecretCredential,
    DefaultAzureCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)
from pydantic import SecretStr

from bridge.config import EntraConfig
from bridge.errors import ConfigError
from bridge.graph.credentials import STATIC_TOKEN_ENV, build_credential, graph_scopes

IDS = {"tenant_id": "t-1", "client_id": "c-1"}


def test_static_credential_without_the_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as raised:
        build_credential(EntraConfig(credential="static"), environ={})
    assert raised.value.key == "entra.credential" and STATIC_TOKEN_ENV in raised.value.reason


def test_static_credential_serves_the_token_and_hides_it_in_repr() -> None:
    cred = build_credential(EntraConfig(credential="static"), environ={STATIC_TOKEN_ENV: "tok-123"})
    token = asyncio.run(cred.get_token("https://graph.microsoft.com/.default"))
    assert token.token == "tok-123"
    assert "tok-123" not in repr(cred)


@pytest.mark.parametrize(
    ("cloud", "scope"),
    [
        ("global", "https://graph.microsoft.com/.default"),
        ("usgov", "https://graph.microsoft.us/.default"),
        ("usgov-dod", "https://dod-graph.microsoft.us/.default"),
        ("china", "https://microsoftgraph.chinacloudapi.cn/.default"),
    ],
)
def test_scope_is_the_clouds_graph_default_even_with_a_url_override(cloud: str, scope: str) -> None:
    entra = EntraConfig(cloud=cloud, graph_url="http://127.0.0.1:9/v1.0")  # type: ignore[arg-type]
    assert graph_scopes(entra) == [scope]


def test_each_credential_kind_builds_its_azure_identity_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", "/dev/null")
    secret = EntraConfig(credential="client_secret", client_secret=SecretStr("s3cret"), **IDS)
    built = {
        "client_secret": build_credential(secret),
        "workload_identity": build_credential(EntraConfig(credential="workload_identity", **IDS)),
        "managed_identity": build_credential(EntraConfig(credential="managed_identity")),
        "default": build_credential(EntraConfig(cloud="usgov")),
    }
    assert isinstance(built["client_secret"], ClientSecretCredential)
    assert isinstance(built["workload_identity"], WorkloadIdentityCredential)
    assert isinstance(built["managed_identity"], ManagedIdentityCredential)
    assert isinstance(built["default"], DefaultAzureCredential)
    assert "s3cret" not in repr(built["client_secret"])

    async def close_all() -> None:
        for cred in built.values():
            await cred.close()

    asyncio.run(close_all())


def test_certificate_file_that_does_not_exist_is_a_config_error() -> None:
    entra = EntraConfig(credential="certificate", certificate_path="missing.pem", **IDS)
    with pytest.raises(ConfigError, match="certificate_path"):
        build_credential(entra)
