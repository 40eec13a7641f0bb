"""boto3 clients on a running AWS sandbox: the ones tests and the bridge use, whose calls the
sandbox counts, and the seeding ones, whose calls skip its latency, throttling and faults."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config

from bridge.config import AwsConfig
from bridge.identity_center.client import AwsService
from bridge.sandbox.aws.api import SEED_HEADER

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def _mark_seed(request: Any, **_: Any) -> None:
    request.headers.add_header(SEED_HEADER, "1")


class SandboxClients:
    """Clients for the sandbox at `endpoint_url`, and the AwsConfig that points the bridge there.
    The endpoint and the Identity Center instance are known once the sandbox has started."""

    region = "us-east-1"

    def __init__(self) -> None:
        self.endpoint_url = ""
        self.instance_arn = ""
        self.identity_store_id = ""
        self._session = boto3.session.Session()
        self._clients: dict[tuple[AwsService, int, bool], BaseClient] = {}
        self._clients_lock = threading.Lock()

    def client(self, service: AwsService, *, max_attempts: int = 1) -> BaseClient:
        """A boto3 client on the sandbox with dummy credentials; its calls are counted."""
        return self._client(service, max_attempts, seed=False)

    def _seed_client(self, service: AwsService) -> Any:
        """A client whose calls skip latency, throttling, faults and counters. Typed Any: boto3
        builds its methods at run time, from the service model."""
        return self._client(service, 1, seed=True)

    def _client(self, service: AwsService, max_attempts: int, *, seed: bool) -> BaseClient:
        if not self.endpoint_url:
            raise RuntimeError("AwsSandbox is not started")
        key = (service, max_attempts, seed)
        with self._clients_lock:
            if key not in self._clients:
                # One session for all clients: it loads each service model once.
                c: BaseClient = self._session.client(
                    service,
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
                    config=Config(retries={"mode": "standard", "total_max_attempts": max_attempts}),
                )
                if seed:
                    c.meta.events.register("before-sign.*.*", _mark_seed)
                self._clients[key] = c
            return self._clients[key]

    def aws_config(self, **overrides: Any) -> AwsConfig:
        values: dict[str, Any] = {
            "region": self.region,
            "identity_store_id": self.identity_store_id,
            "instance_arn": self.instance_arn,
            "endpoint_url": self.endpoint_url,
        }
        return AwsConfig(**(values | overrides))

    @staticmethod
    def credentials_env() -> dict[str, str]:
        """Environment variables giving boto3 dummy credentials (never real AWS)."""
        return dict(DUMMY_CREDENTIALS)
