"""Health checks: SCIM provisioning job and lag, SCIM token, app credentials and the SAML
signing certificate (docs/architecture.md), and the bridge's own state from the ledger: its
last read of PIM, held removals, unreadable mappings, room left for session denials. One
`Check` per row, each with its value, threshold and state; `pim-bridge health` exits 0 when all
are ok, 1 on a warning or an unknown or when nothing was checked at all, 2 on a critical.

Reading (Graph, SCIM, AWS Health, the ledger) happens in `run.py` (`run_health`); deciding a
state from what was read happens in the small pure functions of `checks.py` and
`bridge_state.py`, which the unit tests drive; `report.py` holds the result and prints it.
"""

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
    exit_code,
    expiry_check,
    health_event_check,
    job_check,
    lag_check,
    overall,
    removals_check,
    saml_check,
    token_probe_check,
)
from bridge.health.report import HealthReport, print_health
from bridge.health.run import LAG_WINDOW, USER_SAMPLE, run_health

__all__ = [
    "LAG_WINDOW",
    "USER_SAMPLE",
    "Check",
    "HealthReport",
    "State",
    "credentials_checks",
    "cycle_check",
    "directory_check",
    "exit_code",
    "expiry_check",
    "headroom_checks",
    "health_event_check",
    "job_check",
    "lag_check",
    "mappings_check",
    "overall",
    "print_health",
    "ready_within",
    "removals_check",
    "run_health",
    "saml_check",
    "token_probe_check",
]
