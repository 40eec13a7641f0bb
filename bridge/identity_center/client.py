"""boto3 clients for Identity Center, built from `AwsConfig`.

The adapter takes a `ClientFactory` (service name -> client), so tests and the sandbox inject
their own and production builds one here. With `role_arn`, every client signs with credentials
from STS AssumeRole that botocore refreshes before they expire.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    CredentialProvider,
    Credentials,
    DeferredRefreshableCredentials,
)

from bridge.config import AwsConfig

# Every AWS service the bridge and its sandbox call. boto3's stubs type `client()` per service
# name, so the name is a literal: a misspelt service fails the type check, not a deployment.
AwsService = Literal["health", "identitystore", "organizations", "s3", "sso-admin", "sts"]
ClientFactory = Callable[[AwsService], BaseClient]
RetryMode = Literal["legacy", "standard", "adaptive"]

ROLE_SESSION_NAME = "pim-bridge"
# Retries belong to the adapter, which rate-limits every attempt; botocore retrying on its own
# would send attempts past the limiter.
DEFAULT_MAX_ATTEMPTS = 1


class _AssumeRoleProvider(CredentialProvider):
    METHOD = "pim-bridge-assume-role"

    def __init__(self, fetcher: AssumeRoleCredentialFetcher) -> None:
        super().__init__()
        self._fetcher = fetcher

    def load(self) -> Credentials:
        return DeferredRefreshableCredentials(
            refresh_using=self._fetcher.fetch_credentials, method=self.METHOD
        )


def botocore_config(
    *, max_attempts: int = DEFAULT_MAX_ATTEMPTS, retry_mode: RetryMode = "standard", **extra: Any
) -> Config:
    return Config(
        retries={"mode": retry_mode, "total_max_attempts": max_attempts},
        connect_timeout=extra.pop("connect_timeout", 5),
        read_timeout=extra.pop("read_timeout", 30),
        **extra,
    )


def make_client_factory(
    aws: AwsConfig,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    retry_mode: RetryMode = "standard",
    session: boto3.session.Session | None = None,
) -> ClientFactory:
    """A factory of clients for `aws.region` and `aws.endpoint_url`, assuming `aws.role_arn`
    when it is set. Credentials otherwise come from boto3's usual chain. `max_attempts` counts
    the first attempt too (botocore's `total_max_attempts`)."""
    config = botocore_config(max_attempts=max_attempts, retry_mode=retry_mode)
    endpoint_url = aws.endpoint_url or None
    base = session or boto3.session.Session(region_name=aws.region)
    if aws.role_arn:
        base = _assuming_session(base, aws, config)

    def factory(service: AwsService) -> BaseClient:
        client: BaseClient = base.client(
            service, region_name=aws.region, endpoint_url=endpoint_url, config=config
        )
        return client

    return factory


def _assuming_session(
    source: boto3.session.Session, aws: AwsConfig, config: Config
) -> boto3.session.Session:
    source_credentials = source.get_credentials()

    def sts_client(service: AwsService, **kwargs: Any) -> BaseClient:
        # The STS call itself goes to the same endpoint override (moto in the sandbox).
        client: BaseClient = source.client(
            service,
            region_name=aws.region,
            endpoint_url=aws.endpoint_url or None,
            config=config,
            **kwargs,
        )
        return client

    fetcher = AssumeRoleCredentialFetcher(
        client_creator=sts_client,
        source_credentials=source_credentials,
        role_arn=aws.role_arn,
        extra_args={"RoleSessionName": ROLE_SESSION_NAME},
    )
    core = botocore.session.Session()
    resolver = core.get_component("credential_provider")
    resolver.insert_before("env", _AssumeRoleProvider(fetcher))
    return boto3.session.Session(botocore_session=core, region_name=aws.region)
