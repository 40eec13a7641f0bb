"""What the Identity Center extensions share: the targets they answer, the error they raise and
the moto backends of the sandbox's own account."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.identitystore.models import IdentityStoreBackend, identitystore_backends
from moto.organizations.models import OrganizationsBackend, organizations_backends
from moto.ssoadmin.models import SSOAdminBackend, ssoadmin_backends

SSO_PREFIX = "SWBExternalService."
IDS_PREFIX = "AWSIdentityStore."
ORG_PREFIX = "AWSOrganizationsV20161128."
# Sent by the sandbox's own seeding clients: such calls skip latency, throttling, faults and
# counters, and take effect at once.
SEED_HEADER = "x-pim-bridge-sandbox-seed"

# One operation: the decoded JSON request and the region it was signed for -> the JSON answer
# (None: moto's answer is right for this request).
Handler = Callable[[dict[str, Any], str], dict[str, Any] | None]


class ApiError(Exception):
    """An AWS JSON error: answered as `{"__type": code, "Message": message}` with `status`."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Backends:
    """moto's state of record for one account: extensions read and change it here."""

    account_id: str

    def sso(self, region: str) -> SSOAdminBackend:
        return ssoadmin_backends[self.account_id][region]

    def ids(self, region: str) -> IdentityStoreBackend:
        return identitystore_backends[self.account_id][region]

    def organizations(self) -> OrganizationsBackend:
        return organizations_backends[self.account_id]["aws"]  # one per partition
