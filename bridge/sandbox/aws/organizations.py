"""AWS Organizations calls moto gets wrong: `DescribeAccount` from an account in no organization
answers AWSOrganizationsNotInUseException in AWS, where moto looks the account up anyway."""

from __future__ import annotations

from typing import Any

from bridge.sandbox.aws.api import ORG_PREFIX, ApiError, Backends, Handler


class OrganizationCalls:
    def __init__(self, backends: Backends) -> None:
        self.backends = backends

    def handlers(self) -> dict[str, Handler]:
        return {ORG_PREFIX + "DescribeAccount": self._describe_account}

    def _describe_account(self, params: dict[str, Any], region: str) -> dict[str, Any] | None:
        if self.backends.organizations().org is None:
            raise ApiError(
                "AWSOrganizationsNotInUseException",
                "Your account is not a member of an organization.",
            )
        return None
