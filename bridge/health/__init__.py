"""Health checks: SCIM provisioning job and lag, SCIM token, app credentials and the SAML
signing certificate (docs/architecture.md). One `Check` per row, each with its value, threshold and
state; `pim-bridge health` exits 0 when all are ok, 1 on a warning or an unknown, 2 on a critical.

Reading (Graph, SCIM, AWS Health, the ledger) happens in `run.py` (`run_health`); deciding a
state from what was read happens in the small pure `*_check` functions of `checks.py`, which the
unit tests drive; `report.py` holds the result and prints it.
"""

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
    "directory_check",
    "exit_code",
    "expiry_check",
    "health_event_check",
    "job_check",
    "lag_check",
    "overall",
    "print_health",
    "removals_check",
    "run_health",
    "saml_check",
    "token_probe_check",
]
