"""Posts notices to the webhook from a bounded queue on a thread of its own: the cycle only
enqueues, so a dead or slow receiver never delays a removal. A failed post is retried with
exponential backoff (a 429's Retry-After instead, when it gives one), then given up and counted.

The webhook URL is a credential (it alone lets anyone post to the channel): it is never logged,
and what a receiver answers is logged only as its status code."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bridge.config_notify import NotifyConfig
from bridge.notify.formats import FORMATS
from bridge.ports import Notice
from bridge.retry_after import retry_after_seconds

log = logging.getLogger(__name__)


@dataclass
class DeliveryStats:
    """What the sender did, for /metrics and health; updated by the sender's thread only."""

    sent: int = 0
    failed: int = 0  # given up after every attempt
    dropped: int = 0  # pushed out of a full queue, never attempted
    failing: str | None = None  # why the last notice was given up, until one is delivered
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, outcome: str, why: str | None = None) -> None:
        with self._lock:
            setattr(self, outcome, getattr(self, outcome) + 1)
            if outcome == "sent":
                self.failing = None
            elif outcome == "failed":
                self.failing = why


@dataclass(frozen=True)
class _Attempt:
    ok: bool
    why: str = ""
    retry: bool = True
    wait: float | None = None  # what the receiver asked for (Retry-After)


class WebhookSender:
    """The `Notifier` of `[notify]`. `pause(seconds)` waits between attempts and returns True
    when the sender is stopping (by default: the stop event's wait)."""

    def __init__(
        self,
        config: NotifyConfig,
        stats: DeliveryStats | None = None,
        pause: Callable[[float], bool] | None = None,
    ) -> None:
        assert config.webhook_url is not None
        self._url = config.webhook_url.get_secret_value()
        self._config = config
        self._events = frozenset(config.events)
        self._encode = FORMATS[config.format]
        self.stats = stats or DeliveryStats()
        self._queue: deque[Notice] = deque()
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._closing = False
        self._pause = pause or self._stop.wait
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self._thread.start()

    def publish(self, notices: Sequence[Notice]) -> None:
        wanted = [n for n in notices if n.event in self._events]
        if not wanted:
            return
        with self._ready:
            for n in wanted:
                if len(self._queue) >= self._config.queue_size:
                    self._queue.popleft()
                    self.stats.count("dropped")
                self._queue.append(n)
            self._ready.notify()

    def close(self, drain: float = 0.0) -> None:
        """Stop, giving what is queued up to `drain` seconds to be delivered."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join(drain)
        self._stop.set()
        self._thread.join(self._config.timeout.total_seconds() + 1)

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closing:
                    self._ready.wait()
                if not self._queue or self._stop.is_set():
                    return
                notice = self._queue.popleft()
            self._deliver(notice)

    def _deliver(self, notice: Notice) -> None:
        body = json.dumps(self._encode(notice)).encode()
        attempts = self._config.retries + 1
        for attempt in range(attempts):
            result = self._post(body)
            if result.ok:
                self.stats.count("sent")
                return
            last = attempt + 1 == attempts or not result.retry
            log.warning(
                "notification %s: webhook %s (attempt %d of %d)%s",
                notice.event,
                result.why,
                attempt + 1,
                attempts,
                ", given up" if last else "",
            )
            if last or self._pause(self._wait(attempt, result)):
                break
        self.stats.count("failed", result.why)

    def _wait(self, attempt: int, result: _Attempt) -> float:
        ceiling = self._config.max_backoff.total_seconds()
        if result.wait is not None:
            return min(result.wait, ceiling)
        first: float = self._config.backoff.total_seconds()
        return min(first * 2.0**attempt, ceiling)

    def _post(self, body: bytes) -> _Attempt:
        request = urllib.request.Request(
            self._url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self._config.timeout.total_seconds()):
                return _Attempt(True)
        except urllib.error.HTTPError as exc:
            # 4xx but 408 and 429: the receiver refuses this payload, asking again will not help.
            retry = exc.code >= 500 or exc.code in (408, 429)
            wait = _retry_after(exc)
            exc.close()
            return _Attempt(False, f"answered HTTP {exc.code}", retry, wait)
        except (OSError, ValueError) as exc:
            # Never str(exc): a failed connection's message may quote the URL.
            return _Attempt(False, f"unreachable ({_reason(exc)})")


def _reason(exc: BaseException) -> str:
    inner = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return type(inner).__name__ if isinstance(inner, BaseException) else type(exc).__name__


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    return retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None)
