"""The trail's log files in S3: the regions of an account, the files delivered to one account
and region in a span of minutes, and their bytes, fetched a few at a time ahead of the reader."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bridge.activity.layout import TrailLayout, delivered_at

# Files fetched ahead of the one being read: S3 answers each GET in tens of milliseconds, and
# a day of one account is hundreds of files.
PREFETCH = 8
# A CloudTrail log file is a few MB at most; past this it is skipped rather than held in memory.
MAX_OBJECT = 128 * 1024 * 1024
# The bucket is gone or not readable: no reading can go on.
FATAL = {
    "NoSuchBucket",
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
}


class TrailUnreadable(Exception):
    """The bucket cannot be read at all; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class LogFile:
    key: str
    delivered: datetime
    size: int


@dataclass(frozen=True, slots=True)
class Fetched:
    file: LogFile
    body: bytes | None
    error: str | None = None  # why the body could not be had: the file is skipped


class TrailObjects:
    def __init__(self, s3: Any, bucket: str, layout: TrailLayout) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.layout = layout

    def check(self) -> None:
        """Raise TrailUnreadable unless the bucket is there and may be read: every reading
        starts here, so a wrong bucket is said even when nothing is left to read."""
        try:
            self._s3.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            # HeadBucket answers with a bare status; say it as the other calls would.
            status = str(exc.response.get("Error", {}).get("Code", ""))
            code = {"404": "NoSuchBucket", "403": "AccessDenied"}.get(status, status)
            raise TrailUnreadable(f"cannot read s3://{self.bucket}: {code or exc}") from None
        except BotoCoreError as exc:
            raise TrailUnreadable(f"cannot read s3://{self.bucket}: {exc}") from None

    def regions(self, account: str) -> list[str]:
        """The regions the bucket holds log files of for an account (its region folders)."""
        folder = self.layout.regions_folder(account)
        if folder is None:
            raise TrailUnreadable(
                "activity.regions: needed when cloudtrail_prefix puts more than "
                "{org_id} and {account} before {region}"
            )
        found: list[str] = []
        for page in self._pages(Prefix=folder, Delimiter="/"):
            for p in page.get("CommonPrefixes", ()):
                found.append(p["Prefix"][len(folder) :].rstrip("/"))
        return sorted(found)

    def files(
        self, account: str, region: str, start: datetime, end: datetime
    ) -> Iterator[LogFile | str]:
        """The log files delivered in [start, end), in order; the key of any file in those days'
        folders whose name carries no delivery time (it is skipped and named)."""
        for day in _days(start, end):
            folder = self.layout.day(account, region, day.date())
            first = max(start, day)
            after = folder + TrailLayout.file_prefix(account, region, first)
            for page in self._pages(Prefix=folder, StartAfter=after):
                for obj in page.get("Contents", ()):
                    when = delivered_at(obj["Key"])
                    if when is None:
                        yield obj["Key"]
                        continue
                    if when >= end:
                        return
                    if when >= start:
                        yield LogFile(obj["Key"], when, int(obj.get("Size", 0)))

    def fetch_all(self, files: Iterable[LogFile]) -> Iterator[Fetched]:
        """Each file's bytes, in the order given, `PREFETCH` requests ahead."""
        with ThreadPoolExecutor(PREFETCH, thread_name_prefix="trail") as pool:
            pending: deque[Future[Fetched]] = deque()
            for f in files:
                pending.append(pool.submit(self._fetch, f))
                if len(pending) >= PREFETCH:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def _fetch(self, f: LogFile) -> Fetched:
        if f.size > MAX_OBJECT:
            return Fetched(f, None, f"larger than {MAX_OBJECT // 2**20} MiB")
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=f.key)
            return Fetched(f, answer["Body"].read())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in FATAL:
                raise _unreadable(self.bucket, exc) from None
            return Fetched(f, None, f"not readable: {code or exc}")
        except BotoCoreError as exc:
            raise TrailUnreadable(f"cannot read s3://{self.bucket}: {exc}") from None

    def _pages(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        try:
            yield from self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, **kwargs
            )
        except ClientError as exc:
            raise _unreadable(self.bucket, exc) from None
        except BotoCoreError as exc:
            raise TrailUnreadable(f"cannot read s3://{self.bucket}: {exc}") from None


def _unreadable(bucket: str, exc: ClientError) -> TrailUnreadable:
    err = exc.response.get("Error", {})
    code = err.get("Code") or "error"
    message = str(err.get("Message") or "").strip()
    detail = f" ({message})" if message else ""
    return TrailUnreadable(f"cannot read s3://{bucket}: {code}{detail}")


def _days(start: datetime, end: datetime) -> Iterator[datetime]:
    """Midnight (UTC) of each day in [start, end)."""
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        yield day
        day += timedelta(days=1)
