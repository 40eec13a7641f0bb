"""What Graph shows about Entra's provisioning job: the synchronizationJob (sync-job-get in
Microsoft's samples) and one provisioningObjectSummary per export
(provisioningobjectsummary-list).

What a membership export looks like in the logs is not in Microsoft's samples; the emulator
writes an `update` of the Group with a `members` modified property holding the principal's
object id (newValue on add, oldValue on remove), which is what the bridge's parser reads.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from bridge.sandbox.graph.odata import iso

APP_NAME = "AWS IAM Identity Center"
_NEVER = "0001-01-01T00:00:00Z"


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class ProvisioningJob:
    """The ids the enterprise app, its job and the current cycle go by."""

    sp_id: str = field(default_factory=_new_id)
    app_id: str = field(default_factory=_new_id)
    tenant_id: str = field(default_factory=_new_id)
    cycle_id: str = field(default_factory=_new_id)
    job_key: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def job_id(self) -> str:
        return f"aws.{self.job_key}.{self.app_id}"


@dataclass(frozen=True)
class MembershipExport:
    """One membership change copied to the SCIM server."""

    group_id: str
    group_name: str
    scim_group_id: str
    principal_id: str
    op: Literal["add", "remove"]


def log_entry(job: ProvisioningJob, export: MembershipExport, now: datetime) -> dict[str, Any]:
    """The provisioning log entry of one export, as `GET /auditLogs/provisioning` lists it."""
    name = export.group_name
    return {
        "id": _new_id(),
        "activityDateTime": iso(now),
        "tenantId": job.tenant_id,
        "jobId": job.job_id,
        "cycleId": job.cycle_id,
        "changeId": _new_id(),
        "provisioningAction": "update",
        "durationInMilliseconds": 180,
        "sourceSystem": {"id": _new_id(), "displayName": "Azure Active Directory", "details": {}},
        "targetSystem": {
            "id": _new_id(),
            "displayName": APP_NAME,
            "details": {
                "ApplicationId": job.app_id,
                "ServicePrincipalId": job.sp_id,
                "ServicePrincipalDisplayName": APP_NAME,
            },
        },
        "initiatedBy": {
            "id": "",
            "displayName": "Azure AD Provisioning Service",
            "initiatingType": "system",
        },
        "servicePrincipal": {"id": job.sp_id, "displayName": APP_NAME},
        "sourceIdentity": _identity(export.group_id, name),
        "targetIdentity": _identity(export.scim_group_id, name),
        "provisioningStatusInfo": {"status": "success", "errorInformation": None},
        "provisioningSteps": [
            {
                "name": "EntryExportUpdate",
                "provisioningStepType": "export",
                "status": "success",
                "description": f"Group '{name}' was updated in {APP_NAME}",
                "details": {"ReportableIdentifier": name},
            }
        ],
        "modifiedProperties": [_members_change(export)],
    }


def _identity(object_id: str, name: str) -> dict[str, Any]:
    return {"id": object_id, "displayName": name, "identityType": "Group", "details": {}}


def _members_change(export: MembershipExport) -> dict[str, Any]:
    member = json.dumps([export.principal_id])
    return {
        "displayName": "members",
        "oldValue": member if export.op == "remove" else None,
        "newValue": member if export.op == "add" else None,
    }


def synchronization_job(
    job: ProvisioningJob, now: datetime, state: str | None, *, entitled: int, exported: int
) -> dict[str, Any]:
    """The synchronizationJob as `GET …/synchronization/jobs` returns it; `state` None: the
    job has not run yet."""
    execution = (
        None
        if state is None
        else {
            "activityIdentifier": job.cycle_id,
            "countEntitled": entitled,
            "countExported": exported,
            "error": None,
            "state": state,
            "timeBegan": iso(now - timedelta(milliseconds=200)),
            "timeEnded": iso(now),
        }
    )
    return {
        "id": job.job_id,
        "templateId": "aws",
        "schedule": {"expiration": None, "interval": "PT40M", "state": "Active"},
        "status": {
            "code": "Active" if state else "NotRun",
            "countSuccessiveCompleteFailures": 0,
            "escrowsPruned": False,
            "synchronizedEntryCountByType": [],
            "lastExecution": execution,
            "lastSuccessfulExecution": execution,
            "lastSuccessfulExecutionWithExports": execution if exported else None,
            "progress": [],
            "steadyStateFirstAchievedTime": iso(now) if state else _NEVER,
            "steadyStateLastAchievedTime": iso(now) if state else _NEVER,
            "quarantine": None,
            "troubleshootingUrl": None,
        },
        "synchronizationJobSettings": [],
    }
