"""One exception tree for the bridge.

    BridgeError
    ├── ConfigError          load-time: the file or environment is wrong; exit 2
    ├── SourceError          reading Graph failed            (temporary or permanent)
    └── SinkError            reading or writing AWS failed   (temporary or permanent)

`temporary` says whether the same call may succeed later (throttling, outage) so the
caller retries or withholds, rather than giving up on the grant; `unsettled`, whether a failed
write may have taken effect anyway.

`Unreadable` is not raised: health reads return it in place of a value they could not read.
"""

from __future__ import annotations

from dataclasses import dataclass


class BridgeError(Exception):
    """Root of every error the bridge raises on purpose."""

    # Whether a failed write may have taken effect anyway (see _CallError); no, unless said.
    unsettled: bool = False


class ConfigError(BridgeError):
    """A config key is missing or wrong. `key` is the dotted path, e.g. `aws.region`."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


class _CallError(BridgeError):
    def __init__(self, message: str, *, temporary: bool, unsettled: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary
        # The call may have taken effect all the same (a request still running when waiting
        # gave up, a connection lost after sending): what it would have made may exist.
        self.unsettled = unsettled


class SourceError(_CallError):
    """Microsoft Graph could not be read. Never to be treated as an empty read."""


class SinkError(_CallError):
    """Identity Center could not be read or written."""


@dataclass(frozen=True)
class Unreadable:
    """A read that failed; `permission` names the missing one when the service answered 403."""

    reason: str
    permission: str | None = None

    def __str__(self) -> str:
        return f"{self.reason} (needs {self.permission})" if self.permission else self.reason
