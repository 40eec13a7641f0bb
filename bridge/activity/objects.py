"""The trail's log files in S3: the regions of an account, the files delivered to one account
and region in a span of minutes, and their bytes, fetched a few at a time ahead of the reader."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from bridge.activity.layout import TrailLayout, delivered_at

# Files fetched ahead of the one being read: S3 answers each GET in tens of milliseconds, and
# a day of one account is hundreds of files.
PREFETCH = 8
# Files listed ahead of the one being fetched: listing is a call per thousand files.
LIST_AHEAD = 4096
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


T = TypeVar("T")


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
        folders whose name carries no delivery time (it is skipped and named). Days that sort
        in order are listed in one go, a thousand files a call; others a day at a time."""
        after = self.layout.day(account, region, start.date())
        after += TrailLayout.file_prefix(account, region, start)
        folder = self.layout.dates_folder(account, region)
        if folder is not None:
            yield from self._listed(folder, after, start, end)
            return
        for day in _days(start, end):
            folder = self.layout.day(account, region, day.date())
            first = folder + TrailLayout.file_prefix(account, region, max(start, day))
            yield from self._listed(folder, first, start, end)

    def _listed(
        self, folder: str, after: str, start: datetime, end: datetime
    ) -> Iterator[LogFile | str]:
        for page in self._pages(Prefix=folder, StartAfter=after):
            for obj in page.get("Contents", ()):
                when = delivered_at(obj["Key"])
                if when is None:
                    yield obj["Key"]
                elif when >= end:
                    return
                elif when >= start:
                    yield LogFile(obj["Key"], when, int(obj.get("Size", 0)))

    def fetch_all(self, files: Iterable[LogFile]) -> Iterator[Fetched]:
        """Each file's bytes, in the order given, `PREFETCH` requests ahead; the files are
        listed ahead too, in a thread of their own, while earlier ones are read."""
        with ThreadPoolExecutor(PREFETCH, thread_name_prefix="trail") as pool:
            pending: deque[Future[Fetched]] = deque()
            for f in ahead(files, LIST_AHEAD):
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


def ahead(items: Iterable[T], depth: int) -> Iterator[T]:
    """`items`, produced by a thread of their own up to `depth` ahead of the consumer; an
    exception the producer raises is raised here, in order."""
    box: queue.Queue[tuple[bool, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                box.put((True, item))
            box.put((False, None))
        except BaseException as exc:  # handed to the consumer
            box.put((False, exc))

    worker = threading.Thread(target=produce, name="trail-list", daemon=True)
    worker.start()
    try:
        while True:
            more, item = box.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # let a producer blocked on a full queue see the stop
            try:
                box.get_nowait()
            except queue.Empty:
                worker.join(0.01)


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
