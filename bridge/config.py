"""The TOML config file as pydantic models.

Every key is documented where it is declared (the `description=`), and docs/configuration.md is
checked against these models by a test. Environment variables `PIM_BRIDGE_<SECTION>__<KEY>`
override the file; secrets come only from the environment or from files, never from the TOML.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from bridge.config_activity import ActivityConfig
from bridge.config_notify import NotifyConfig
from bridge.config_schedule import ScheduleConfig
from bridge.config_sources import SECRET_ENV, coerce, env_overrides, parse_toml
from bridge.config_types import Duration, Section
from bridge.errors import ConfigError

DEFAULT_PATH = "pim-bridge.toml"

GRAPH_CLOUDS = {
    "global": ("https://graph.microsoft.com", "https://login.microsoftonline.com"),
    "usgov": ("https://graph.microsoft.us", "https://login.microsoftonline.us"),
    "usgov-dod": ("https://dod-graph.microsoft.us", "https://login.microsoftonline.us"),
    "china": ("https://microsoftgraph.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
}


class EntraConfig(Section):
    tenant_id: str = Field("", description="Entra tenant (directory) id.")
    client_id: str = Field(
        "", description="Application (client) id of the bridge's app registration."
    )
    credential: Literal[
        "default", "client_secret", "certificate", "workload_identity", "managed_identity", "static"
    ] = Field("default", description="How the bridge authenticates to Microsoft Graph.")
    cloud: Literal["global", "usgov", "usgov-dod", "china"] = Field(
        "global", description="National cloud: picks the Graph and login hosts."
    )
    graph_url: str = Field(
        "", description="Override of the Graph base URL including the version, e.g. the sandbox's."
    )
    certificate_path: str = Field(
        "", description="PEM file with the certificate and private key (credential = certificate)."
    )
    client_secret: SecretStr | None = Field(
        None,
        description="Client secret (credential = client_secret). Only from the environment: "
        "PIM_BRIDGE_ENTRA__CLIENT_SECRET.",
        json_schema_extra={"secret": True},
    )
    max_pages_per_group: int = Field(
        100,
        ge=1,
        description="Most pages (@odata.nextLink) one read follows in a group's listing; a "
        "listing with more reads as unreadable, never as partial.",
    )
    max_items_per_group: int = Field(
        10_000,
        ge=1,
        description="Most items one read keeps from a group's listing; a listing with more "
        "reads as unreadable, never as partial.",
    )

    @property
    def graph_base_url(self) -> str:
        return (self.graph_url or GRAPH_CLOUDS[self.cloud][0] + "/v1.0").rstrip("/")

    @property
    def authority_host(self) -> str:
        return GRAPH_CLOUDS[self.cloud][1]

    @model_validator(mode="after")
    def _credential_needs(self) -> EntraConfig:
        needs_ids = {"client_secret", "certificate", "workload_identity"}
        if self.credential in needs_ids:
            for key in ("tenant_id", "client_id"):
                if not getattr(self, key):
                    raise ValueError(f"{key} is required when credential = {self.credential!r}")
        if self.credential == "client_secret" and self.client_secret is None:
            raise ValueError(
                "credential = 'client_secret' needs the secret in env "
                "PIM_BRIDGE_ENTRA__CLIENT_SECRET"
            )
        if self.credential == "certificate" and not self.certificate_path:
            raise ValueError("credential = 'certificate' needs certificate_path")
        return self


class AwsConfig(Section):
    region: str = Field("us-east-1", description="Region of the Identity Center instance.")
    identity_store_id: str = Field(..., description="Identity Store id, d-…")
    instance_arn: str = Field(..., description="Identity Center instance ARN.")
    endpoint_url: str = Field("", description="Endpoint override for moto / LocalStack.")
    role_arn: str = Field("", description="Optional role to assume for every AWS call.")

    @field_validator("instance_arn")
    @classmethod
    def _arn(cls, v: str) -> str:
        if not v.startswith("arn:") or ":instance/" not in v:
            raise ValueError("must look like arn:aws:sso:::instance/ssoins-…")
        return v


class MatchingConfig(Section):
    entra_attribute: str = Field(
        "userPrincipalName", description="Attribute of the Entra user to match on."
    )
    identity_center_attribute: str = Field(
        "userName", description="Identity Store attribute path it must equal (GetUserId)."
    )


class RevocationConfig(Section):
    deny_stale_sessions: bool = Field(
        True, description="Deny AWS sessions issued before a revocation (see docs/architecture.md)."
    )
    mechanism: Literal["inline", "scp"] = Field(
        "inline",
        description="Where denials go: each permission set's inline policy (re-provisioned), "
        "or one Service Control Policy (member accounts only, 5,120 characters).",
    )
    scp_policy_id: str = Field(
        "", description="The bridge's own SCP (p-…) when mechanism = scp; attach it yourself."
    )

    @model_validator(mode="after")
    def _scp(self) -> RevocationConfig:
        if self.mechanism == "scp" and not re.fullmatch(r"p-[0-9a-z]{8,128}", self.scp_policy_id):
            raise ValueError("mechanism = 'scp' needs scp_policy_id = 'p-…'")
        return self


class SafetyConfig(Section):
    max_removals_per_cycle: int = Field(
        50, ge=0, description="Above this, a cycle applies no removals and alerts."
    )


class HealthConfig(Section):
    warn_days: int = Field(
        30, ge=0, description="Warn when a token or credential expires within this."
    )
    critical_days: int = Field(7, ge=0, description="Critical when it expires within this.")
    scim_job_max_age: Duration = Field(
        timedelta(hours=2),
        description="Warn when the SCIM provisioning job's last successful cycle is older.",
    )
    interval: Duration = Field(
        timedelta(minutes=5),
        description="How often `run` refreshes SCIM lag and expiry figures for /metrics.",
    )

    @model_validator(mode="after")
    def _order(self) -> HealthConfig:
        if self.critical_days > self.warn_days:
            raise ValueError("critical_days must not exceed warn_days")
        return self


class StoreConfig(Section):
    url: str = Field(
        "sqlite:///pim-bridge.db",
        description="SQLAlchemy URL of the ledger: SQLite, or postgresql+psycopg://… for replicas.",
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not (v.startswith("sqlite:") or v.startswith("postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return v


class ServiceConfig(Section):
    listen: str = Field(
        "127.0.0.1:9464", description="host:port of the /healthz and /metrics endpoint in `run`."
    )
    emf: bool = Field(
        False,
        description="Also log each cycle's figures in CloudWatch embedded metric format (stdout).",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="The log's lines: text, or one JSON object per line (--log-format wins).",
    )
    unready_after_failed_polls: int = Field(
        3,
        ge=1,
        description="/healthz answers 503 (not ready) after this many polls in a row failed "
        "to read Graph.",
    )


class ScimConfig(Section):
    endpoint: str = Field("", description="Identity Center SCIM endpoint URL.")
    token_expires_at: datetime | None = Field(
        None, description="When the SCIM token expires (AWS has no API to read it)."
    )
    provisioning_app_id: str = Field(
        "", description="Entra enterprise app (service principal) running SCIM provisioning."
    )
    token: SecretStr | None = Field(
        None,
        description="SCIM bearer token. Only from the environment: PIM_BRIDGE_SCIM_TOKEN.",
        json_schema_extra={"secret": True},
    )


class AssignmentConfig(Section):
    account_id: str = Field(..., description="12-digit AWS account id.")
    permission_set: str = Field(..., description="Permission set name or ARN.")

    @field_validator("account_id", mode="before")
    @classmethod
    def _account(cls, v: Any) -> str:
        account = str(v)
        if not re.fullmatch(r"\d{12}", account):
            raise ValueError("must be a 12-digit AWS account id (quote it in TOML)")
        return account


class MappingConfig(Section):
    name: str = Field(..., description="Unique name of the mapping, used in reports and logs.")
    entra_group_id: str = Field(..., description="Object id of the PIM-enabled Entra group.")
    access: Literal["member", "owner"] = Field("member", description="PIM access to mirror.")
    include_permanent: bool = Field(
        False, description="Also mirror 'assigned' (permanent, non-activated) instances."
    )
    drift: Literal["report", "remove"] = Field(
        "report", description="Holders of these targets with no PIM basis: report or remove."
    )
    identity_center_group: str = Field(
        "", description="Identity Center group (display name or id) to mirror members into."
    )
    assignments: list[AssignmentConfig] = Field(
        default_factory=list, description="Account and permission set pairs to assign users."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", v):
            raise ValueError("letters, digits, '.', '_' and '-', at most 64")
        return v

    @model_validator(mode="after")
    def _has_target(self) -> MappingConfig:
        if not self.identity_center_group and not self.assignments:
            raise ValueError("needs identity_center_group or assignments (or both)")
        return self


class Config(Section):
    entra: EntraConfig = Field(default_factory=EntraConfig)
    aws: AwsConfig
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    revocation: RevocationConfig = Field(default_factory=RevocationConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    scim: ScimConfig = Field(default_factory=ScimConfig)
    activity: ActivityConfig = Field(default_factory=ActivityConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    mappings: list[MappingConfig] = Field(..., min_length=1)

    @field_validator("mappings")
    @classmethod
    def _unique(cls, v: list[MappingConfig]) -> list[MappingConfig]:
        seen: set[tuple[str, str]] = set()
        names: set[str] = set()
        for m in v:
            if m.name in names:
                raise ValueError(f"duplicate mapping name {m.name!r}")
            names.add(m.name)
            key = (m.entra_group_id, m.access)
            if key in seen:
                raise ValueError(f"group {m.entra_group_id} ({m.access}) is mapped twice")
            seen.add(key)
        return v


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith(("function-", "literal[")):
            out += ("." if out else "") + str(part)
    return out or "config"


def config_from_dict(data: dict[str, Any], environ: dict[str, str] | None = None) -> Config:
    environ = dict(os.environ) if environ is None else environ
    for section, key in SECRET_ENV:
        if key in data.get(section, {}):
            raise ConfigError(
                f"{section}.{key}",
                f"secrets are never read from the file; set {SECRET_ENV[section, key]}",
            )
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    # Dotted key -> the variable that set it, so an error names what the operator typed.
    from_env: dict[str, str] = {}
    for section, keys in env_overrides(environ).items():
        target = merged.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(section, "cannot override a non-table with environment variables")
        for key, (raw, variable) in keys.items():
            target[key] = raw if (section, key) in SECRET_ENV else coerce(raw)
            from_env[f"{section}.{key}"] = variable
    try:
        return Config.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown key"
        key = _loc(err["loc"])
        if key in from_env:
            key = f"{key} (from {from_env[key]})"
        raise ConfigError(key, reason) from None


def config_path(
    path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None
) -> Path:
    """The config file `load_config` reads: `path`, else $PIM_BRIDGE_CONFIG, else the default."""
    environ = dict(os.environ) if environ is None else environ
    return Path(path or environ.get("PIM_BRIDGE_CONFIG") or DEFAULT_PATH)


def load_config(
    path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None
) -> Config:
    environ = dict(os.environ) if environ is None else environ
    p = config_path(path, environ)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {p} (copy config.example.toml)") from None
    except OSError as exc:
        raise ConfigError("config", f"cannot read {p}: {exc.strerror}") from None
    return config_from_dict(parse_toml(text, p), environ)
