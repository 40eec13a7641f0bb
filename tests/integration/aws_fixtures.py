"""Fixtures for the AWS side: a running AwsSandbox and an adapter pointed at it.

Import the fixtures you use into a test module or a conftest:
`from tests.integration.aws_fixtures import aws_sandbox, identity_center`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bridge.identity_center import AwsIdentityCenter, Backoff
from bridge.sandbox.aws.sandbox import AwsSandbox

# Quick polls and backoff keep the async tests to a fraction of a second.
FAST_BACKOFF = Backoff(base=0.005, cap=0.05, attempts=8)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials, and no profile or config file that could point boto3 elsewhere."""
    for name, value in AwsSandbox.credentials_env().items():
        monkeypatch.setenv(name, value)
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def aws_sandbox(aws_credentials: None) -> Iterator[AwsSandbox]:
    """A fresh sandbox per test; its knobs (async_delay, latency, rate limit) can be set live."""
    with AwsSandbox() as sandbox:
        yield sandbox


def make_identity_center(sandbox: AwsSandbox, **kwargs: object) -> AwsIdentityCenter:
    options: dict[str, object] = {"poll_interval": 0.02, "backoff": FAST_BACKOFF}
    return AwsIdentityCenter(sandbox.aws_config(), **(options | kwargs))  # type: ignore[arg-type]


@pytest.fixture
def identity_center(aws_sandbox: AwsSandbox) -> AwsIdentityCenter:
    return make_identity_center(aws_sandbox)
