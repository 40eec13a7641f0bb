"""An organization trail for the sandbox: every call a simulated session makes (`is_allowed`)
becomes a CloudTrail record, and `flush` delivers them to a moto S3 bucket as gzipped
`{"Records": [...]}` log files, laid out and named as an organization trail's are.

Records follow CloudTrail's documented format (the record contents and userIdentity references):
an assumed-role identity whose session issuer is the account's
`AWSReservedSSO_<permission set>_<suffix>` role under `/aws-reserved/sso.amazonaws.com/`, named
after the user's Identity Center user name, with the session's `creationDate`; a refused call
carries `errorCode` AccessDenied (ExpiredToken once the session outlived its duration)."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bridge.activity.layout import TrailLayout
from bridge.config_activity import TRAIL_LAYOUT
from bridge.sandbox.aws.sessions import Session

ORG_ID = "o-pimbridgesbx"
EVENT_VERSION = "1.09"


def role_name(permission_set: str, permission_set_arn: str, account_id: str) -> str:
    """Identity Center's role for a permission set in an account; the suffix is fixed per pair."""
    suffix = hashlib.sha256(f"{permission_set_arn}|{account_id}".encode()).hexdigest()[:16]
    return f"AWSReservedSSO_{permission_set}_{suffix}"


def _ts(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sso_record(
    *,
    account_id: str,
    role: str,
    user_name: str,
    issued_at: datetime,
    at: datetime,
    action: str,
    region: str,
    error: str | None = None,
) -> dict[str, Any]:
    """One CloudTrail record of a call by an Identity Center user's role session."""
    service, _, name = action.partition(":")
    role_id = "AROA" + hashlib.sha256(role.encode()).hexdigest()[:17].upper()
    session_arn = f"arn:aws:sts::{account_id}:assumed-role/{role}/{user_name}"
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{user_name}",
            "arn": session_arn,
            "accountId": account_id,
            "accessKeyId": "ASIA" + hashlib.sha256(session_arn.encode()).hexdigest()[:16].upper(),
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": f"arn:aws:iam::{account_id}:role/aws-reserved/sso.amazonaws.com/{role}",
                    "accountId": account_id,
                    "userName": role,
                },
                "attributes": {"creationDate": _ts(issued_at), "mfaAuthenticated": "false"},
            },
        },
        "eventTime": _ts(at),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.17.0",
        "requestParameters": None,
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
    }
    if error is not None:
        record["errorCode"] = error
        record["errorMessage"] = (
            f"User: {session_arn} is not authorized to perform: {action} with an explicit deny "
            "in an identity-based policy"
            if error == "AccessDenied"
            else "The security token included in the request is expired"
        )
    return record


def log_file(records: Sequence[dict[str, Any]]) -> bytes:
    return gzip.compress(json.dumps({"Records": list(records)}).encode())


class SandboxTrail:
    """Thread-safe: sessions are evaluated from several threads in the demo and benchmarks."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        region: str,
        user_name: Callable[[str], str],
        permission_set_name: Callable[[str], str],
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.region = region
        self.layout = TrailLayout(TRAIL_LAYOUT, ORG_ID)
        self._user_name = user_name
        self._ps_name = permission_set_name
        self._lock = threading.Lock()
        self._pending: list[tuple[str, dict[str, Any]]] = []  # (account, record)
        self._names: dict[str, str] = {}
        self.delivered: datetime | None = None  # the last delivery's time
        self.records = 0

    def create_bucket(self) -> None:
        self.s3.create_bucket(Bucket=self.bucket)

    def record(self, session: Session, action: str, at: datetime, allowed: bool) -> None:
        error = None
        if not allowed:
            expired = at >= session.issued_at + session.duration
            error = "ExpiredToken" if expired else "AccessDenied"
        ps = self._named(self._ps_name, session.permission_set_arn)
        record = sso_record(
            account_id=session.account_id,
            role=role_name(ps, session.permission_set_arn, session.account_id),
            user_name=self._named(self._user_name, session.user_id),
            issued_at=session.issued_at,
            at=at,
            action=action,
            region=self.region,
            error=error,
        )
        with self._lock:
            self._pending.append((session.account_id, record))

    def _named(self, lookup: Callable[[str], str], key: str) -> str:
        # Names do not change while the sandbox runs; a lookup per call would slow the demo's
        # 50 ms watcher.
        if key not in self._names:
            self._names[key] = lookup(key)
        return self._names[key]

    def flush(self) -> list[str]:
        """Deliver every record so far as CloudTrail would have: one log file per account and
        minute of calls, delivered (and named) the minute after. Returns the keys."""
        with self._lock:
            pending, self._pending = self._pending, []
        batches: dict[tuple[str, datetime], list[dict[str, Any]]] = {}
        for account, record in pending:
            called = datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
            minute = called.replace(second=0, tzinfo=UTC) + timedelta(minutes=1)
            batches.setdefault((account, minute), []).append(record)
        keys = [
            self.put(account, records, at) for (account, at), records in sorted(batches.items())
        ]
        with self._lock:
            self.records += len(pending)
            for _, at in batches:
                self.delivered = at if self.delivered is None else max(self.delivered, at)
        return keys

    def put(self, account: str, records: Sequence[dict[str, Any]], delivered: datetime) -> str:
        """Deliver one log file of these records, named after its delivery minute."""
        key = self.key(account, delivered)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=log_file(records))
        return key

    def key(self, account: str, delivered: datetime, region: str | None = None) -> str:
        region = region or self.region
        unique = uuid.uuid4().hex[:16]
        folder = self.layout.day(account, region, delivered.date())
        name = TrailLayout.file_prefix(account, region, delivered)
        return f"{folder}{name}_{unique}.json.gz"

    def delivered_through(self) -> datetime | None:
        """Once flushed, every record is in a file named before this minute."""
        return None if self.delivered is None else self.delivered + timedelta(minutes=1)

    def activity_section(self) -> dict[str, Any]:
        """The [activity] section reading this trail: a call is delivered the minute after it,
        and the sandbox's sessions are watched for minutes past an end, not for their hour."""
        return {
            "cloudtrail_bucket": self.bucket,
            "organization_id": ORG_ID,
            "regions": [self.region],
            "after_end": "2m",
            "delivery_delay": "1m",
        }
