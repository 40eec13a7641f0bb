"""The ledger's incident requests, as the waiting CLI and the leader see them: a request whose
CLI stopped waiting is never performed, and one is taken by one leader only, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.store import Ledger, RequestOutcome

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_a_request_past_its_deadline_is_cancelled_not_performed(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    try:
        requests = ledger.incident_requests
        late = requests.queue("unblock", {"user": "a"}, "cli", NOW, NOW + MINUTE)

        assert requests.claim("leader", NOW + 2 * MINUTE) is None
        request = requests.request(late)
        assert request is not None and request.state == "cancelled"
    finally:
        ledger.close()


def test_requests_are_taken_oldest_first_once_each_and_a_taken_one_cannot_be_cancelled(
    tmp_path: Path,
) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    try:
        requests = ledger.incident_requests
        first = requests.queue("revoke", {"user": "a"}, "cli", NOW, NOW + MINUTE)
        second = requests.queue("unblock", {"user": "b"}, "cli", NOW, NOW + MINUTE)

        taken = requests.claim("leader", NOW)
        assert taken is not None and (taken.id, taken.state) == (first, "running")
        assert not requests.cancel(first, NOW)
        assert requests.cancel(second, NOW)
        assert requests.claim("leader", NOW) is None

        requests.finish(first, RequestOutcome(1, ["denied"], ["remove: busy"]), NOW)
        done = requests.request(first)
        assert done is not None and done.state == "done" and done.exit_code == 1
        assert (done.done, done.failed) == (["denied"], ["remove: busy"])
    finally:
        ledger.close()
