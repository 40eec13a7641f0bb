"""One health run: read Graph, the SCIM endpoint, AWS Health and the ledger, and decide each
row. The checks come in groups, each a function of what the run reads from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.config import AwsConfig, Config
from bridge.errors import BridgeError, Unreadable
from bridge.graph.health_reads import GraphHealthReader
from bridge.health.bridge_state import (
    cycle_check,
    headroom_checks,
    mappings_check,
    ready_within,
)
from bridge.health.checks import (
    Check,
    State,
    credentials_checks,
    directory_check,
    expiry_check,
    health_event_check,
    job_check,
    lag_check,
    removals_check,
    saml_check,
    token_probe_check,
)
from bridge.health.report import HealthReport
from bridge.identity_center.adapter import AwsIdentityCenter
from bridge.lag import LagStore
from bridge.scim import probe_scim, scim_token_expiry_event
from bridge.store import LagKind, Ledger

LONGEST_SESSION = timedelta(hours=12)
LAG_WINDOW = timedelta(days=7)  # provisioning logs are kept 30 days; a week answers "lately"
USER_SAMPLE = 5
_LAG_KINDS: tuple[LagKind, ...] = ("activation", "removal")


@dataclass(frozen=True)
class _Sources:
    """What one health run reads from; every group of checks takes it."""

    config: Config
    ledger: Ledger
    now: datetime
    graph: GraphHealthReader
    lag: LagStore
    aws_health: Callable[[], datetime | Unreadable | None]
    permission_set_name: Callable[[str], str]


def _provisioning_checks(s: _Sources) -> list[Check]:
    h, sp = s.config.health, s.config.scim.provisioning_app_id
    if not sp:
        return [
            Check("scim.job", State.SKIPPED, "not configured", "-", "set scim.provisioning_app_id")
        ]
    job = job_check(s.graph.sync_job(sp), s.now, h)
    lags = _lag_checks(s, sp)
    return [job, *lags, saml_check(s.graph.saml_certificate(sp), s.now, h)]


def _lag_checks(s: _Sources, sp: str) -> list[Check]:
    """Collects the week's SCIM exports into lag samples (kept in the ledger), then judges them."""
    since = s.now - LAG_WINDOW
    exports = s.graph.membership_exports(sp, since)
    unreadable = exports if isinstance(exports, Unreadable) else None
    groups = {m.name: m.entra_group_id for m in s.config.mappings}
    s.lag.collect(
        groups,
        None if isinstance(exports, Unreadable) else exports,
        since,
        s.now,
        str(unreadable) if unreadable else "",
    )
    return [lag_check(s.lag.stats(kind, since), unreadable) for kind in _LAG_KINDS]


def _app_checks(s: _Sources) -> list[Check]:
    client_id = s.config.entra.client_id
    if not client_id:
        return [Check("entra.app", State.SKIPPED, "not configured", "-", "set entra.client_id")]
    return credentials_checks(s.graph.app_credentials(client_id), s.now, s.config.health)


def _scim_checks(s: _Sources) -> list[Check]:
    scim = s.config.scim
    if not scim.endpoint:
        return []
    expiry = expiry_check("scim.token.expiry", scim.token_expires_at, s.now, s.config.health)
    return [*_token_checks(s), expiry, health_event_check(s.aws_health())]


def _token_checks(s: _Sources) -> list[Check]:
    scim = s.config.scim
    token = scim.token.get_secret_value() if scim.token else ""
    if not token:
        return [
            Check(
                "scim.token",
                State.UNKNOWN,
                "unknown",
                "accepted",
                "no token: set PIM_BRIDGE_SCIM_TOKEN",
            )
        ]
    users = s.ledger.recent_user_names(USER_SAMPLE)
    probe = probe_scim(scim.endpoint, token, _mapped_groups(s.config), users)
    return [token_probe_check(probe), directory_check(probe)]


def _bridge_checks(s: _Sources) -> list[Check]:
    ledger = s.ledger
    polls = ("poll", "drift", "sync")
    last_read = ledger.last_cycle(finished=True, read_graph=True)
    limit = ready_within(s.config.schedule.poll_every())
    return [
        cycle_check(last_read, ledger.last_cycle() is not None, s.now, limit),
        removals_check(ledger.last_cycle(kinds=polls, finished=True, read_graph=True)),
        mappings_check(ledger.last_cycle(kinds=polls, finished=True)),
        *_denial_checks(s),
    ]


def _denial_checks(s: _Sources) -> list[Check]:
    if not s.config.revocation.deny_stale_sessions:
        return []
    # A statement lasts as long as a session it could match: at most Identity Center's longest.
    policies = s.ledger.denials_in_force(s.now - LONGEST_SESSION)
    return headroom_checks(policies, s.now, s.permission_set_name)


# The groups of checks, in the order the report lists them.
_CHECKS: tuple[Callable[[_Sources], list[Check]], ...] = (
    _provisioning_checks,
    _app_checks,
    _scim_checks,
    _bridge_checks,
)


def run_health(
    config: Config,
    ledger: Ledger,
    now: datetime,
    *,
    reader: GraphHealthReader | None = None,
    aws_health: Callable[[], datetime | Unreadable | None] | None = None,
    permission_set_name: Callable[[str], str] | None = None,
) -> HealthReport:
    """Read everything the checks need and decide each row. Also stores the lag samples."""
    graph = reader or GraphHealthReader(config.entra, max_retries=2)
    sources = _Sources(
        config,
        ledger,
        now,
        graph,
        LagStore(ledger),
        aws_health or (lambda: scim_token_expiry_event(config.aws)),
        permission_set_name or PermissionSetNames(config.aws),
    )
    try:
        checks = [check for group in _CHECKS for check in group(sources)]
    finally:
        if reader is None:
            graph.close()
    return HealthReport(checks, sources.lag)


class PermissionSetNames:
    """A permission set's name from its ARN, asked of Identity Center only when a policy holds
    denials; the ARN's last part when it cannot say (or for an SCP, its own name)."""

    def __init__(self, aws: AwsConfig) -> None:
        self._aws = aws
        self._ic: AwsIdentityCenter | None = None

    def __call__(self, policy: str) -> str:
        if not policy.startswith("arn:"):
            return policy
        if self._ic is None:
            self._ic = AwsIdentityCenter(self._aws, calls_per_second=None)
        try:
            return self._ic.permission_set_name(policy)
        except BridgeError:
            return policy.rsplit("/", 1)[-1]


def _mapped_groups(config: Config) -> list[str]:
    return list(
        dict.fromkeys(m.identity_center_group for m in config.mappings if m.identity_center_group)
    )
