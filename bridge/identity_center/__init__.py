"""Identity Center reads and writes (identitystore, sso-admin) through boto3."""

from bridge.identity_center.adapter import AwsIdentityCenter
from bridge.identity_center.calls import AwsCallError, Backoff
from bridge.identity_center.client import ClientFactory, make_client_factory

__all__ = ["AwsCallError", "AwsIdentityCenter", "Backoff", "ClientFactory", "make_client_factory"]
