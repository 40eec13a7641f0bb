"""`revoke` and `unblock` while a service leads the store: the CLI hands the request to the
leader through the ledger (`hand_to_leader`) and waits for the outcome it records; the leader
(`IncidentDesk`, a job of the service) takes each queued request within `DESK_TICK` and performs
it through the same `Incident` code the CLI runs directly. One writer only: the leader alone
claims, performs and records (fenced by its epoch on PostgreSQL).

A request no leader takes within the CLI's wait is cancelled, never left to run later: an
`unblock` performed after its caller gave up (and perhaps revoked again) would undo a revoke."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from bridge.errors import BridgeError, ConfigError
from bridge.incident import Incident, Outcome, RevokeRequest
from bridge.leader import replica_name
from bridge.ports import Clock, SystemClock
from bridge.store import Fenced, Ledger, QueuedRequest, RequestOutcome, store_failure
from bridge.words import plural

log = logging.getLogger(__name__)

DESK_TICK = timedelta(seconds=0.5)  # how often the leader looks for queued requests
POLL_SECONDS = 0.1  # how often the waiting CLI reads its request back


def hand_to_leader(
    ledger: Ledger,
    verb: str,
    request: Mapping[str, Any],
    wait: timedelta,
    clock: Clock | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RequestOutcome:
    """Queue `verb` for the leader and wait up to `wait` for its outcome."""
    clock = clock or SystemClock()
    requests = ledger.incident_requests
    now = clock.now()
    request_id = requests.queue(verb, request, replica_name(), now, now + wait)
    give_up = time.monotonic() + wait.total_seconds()
    try:
        while True:
            queued = requests.request(request_id)
            assert queued is not None, "a request this process queued"
            if queued.state not in ("queued", "running"):
                return _told(queued, wait)
            if time.monotonic() >= give_up:
                if queued.state == "queued" and requests.cancel(request_id, clock.now()):
                    return _told(replace(queued, state="cancelled"), wait)
                return _told(requests.request(request_id) or queued, wait)  # taken meanwhile
            sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        requests.cancel(request_id, clock.now())
        raise


def _told(queued: QueuedRequest, wait: timedelta) -> RequestOutcome:
    """What the waiting CLI says of its request, as the ledger has it."""
    if queued.state == "done":
        code = 1 if queued.exit_code is None else queued.exit_code
        return RequestOutcome(code, queued.done, queued.failed, queued.error)
    seconds = f"{wait.total_seconds():g}s"
    if queued.state == "running":
        why = (
            f"{queued.performed_by} took it but recorded no outcome within {seconds}; it goes "
            "on, and running it again is harmless"
        )
    elif queued.state == "interrupted":
        why = (
            f"{queued.performed_by} stopped leading while performing it, before recording "
            "its outcome: run it again (running it again is harmless)"
        )
    else:
        why = f"no leader took it within {seconds}: cancelled, nothing done"
    return RequestOutcome(1, failed=[why])


class IncidentDesk:
    """The leader's side: each queued request claimed, performed and its outcome recorded."""

    def __init__(self, incident: Incident, leading: Callable[[], bool]) -> None:
        self._incident = incident
        self._bridge = incident.bridge
        self._leading = leading
        self._holder = replica_name()

    def serve(self) -> int:
        """Perform every queued request, oldest first, while leading; how many were."""
        requests = self._bridge.ledger.incident_requests
        performed = 0
        try:
            while self._leading() and (
                queued := requests.claim(self._holder, self._bridge.clock.now())
            ):
                log.warning("performing %s of %s, queued by the CLI", queued.verb, _who(queued))
                outcome = self._perform(queued)
                requests.finish(queued.id, outcome, self._bridge.clock.now())
                performed += 1
        except Fenced as exc:
            log.error("incident requests: %s", exc)
        except Exception as exc:
            why = store_failure(exc)
            if why is None:
                raise
            # The store is failing: the cycles say so; this job looks again next tick.
            log.debug("incident requests not read: %s", why)
        return performed

    def take_over(self) -> None:
        """On becoming leader: requests an earlier leader took and never finished are
        marked interrupted, so their CLI is told at once rather than at the end of its wait."""
        cut = self._bridge.ledger.incident_requests.interrupt_running(self._bridge.clock.now())
        if cut:
            log.warning("%s cut off by a stop", plural(cut, "incident request"))

    def _perform(self, queued: QueuedRequest) -> RequestOutcome:
        try:
            outcome = self._run(queued)
        except ConfigError as exc:
            return RequestOutcome(2, error=str(exc))
        except BridgeError as exc:
            return RequestOutcome(1, failed=[f"{queued.verb}: {exc}"])
        except Exception as exc:  # recorded, or the waiting CLI would only learn of a timeout
            log.exception("%s of %s failed", queued.verb, _who(queued))
            return RequestOutcome(1, failed=[f"{queued.verb}: {type(exc).__name__}"])
        return RequestOutcome(outcome.exit_code, outcome.done, outcome.failed)

    def _run(self, queued: QueuedRequest) -> Outcome:
        if queued.verb == "revoke":
            return self._incident.revoke(RevokeRequest(**queued.request))
        if queued.verb == "unblock":
            return self._incident.unblock(str(queued.request["user"]))
        raise ConfigError("verb", f"no incident verb {queued.verb!r}")


def _who(queued: QueuedRequest) -> str:
    return str(queued.request.get("user", "?"))
