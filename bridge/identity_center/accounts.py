"""`check-config` for a mapped AWS account: AWS Organizations says it exists, where the
credentials may ask. The bridge needs no Organizations permission for anything else, so a
refusal is a check skipped with a note, never a failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from bridge.identity_center.calls import CallPolicy, error_code, to_sink_error

# Answers that say nothing about the account, only about what may be asked.
_UNREADABLE = {
    "AccessDeniedException": "organizations:DescribeAccount is not allowed to these credentials",
    "AWSOrganizationsNotInUseException": "these credentials' account is in no organization",
}


@dataclass(frozen=True)
class AccountCheck:
    state: Literal["ok", "missing", "skipped"]
    detail: str


def check_account(
    organizations: Callable[[], Any], policy: CallPolicy, account_id: str
) -> AccountCheck:
    """Raises SinkError only when AWS could not be asked at all (a network failure)."""
    try:
        answer = policy.call(
            "DescribeAccount", organizations().describe_account, AccountId=account_id
        )
    except ClientError as exc:
        code = error_code(exc)
        if code == "AccountNotFoundException":
            return AccountCheck("missing", f"no account {account_id} in the organization")
        if code in _UNREADABLE:
            return AccountCheck("skipped", _UNREADABLE[code])
        raise to_sink_error(exc, "DescribeAccount") from exc
    except BotoCoreError as exc:
        raise to_sink_error(exc, "DescribeAccount") from exc
    account = answer.get("Account", {})
    name = account.get("Name") or account_id
    return AccountCheck("ok", f"{name} ({account.get('Status', 'ACTIVE')})")
