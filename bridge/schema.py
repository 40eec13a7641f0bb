"""The ledger's tables (SQLAlchemy Core). Migrations in bridge/migrations build exactly these;
a test compares the two so they cannot drift apart."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# One row per (PIM instance, its principal, target): what PIM granted and when it must end.
grants = Table(
    "grants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mapping", String(64), nullable=False),
    Column("source_instance_id", String(200), nullable=False),
    Column("target_key", String(300), nullable=False),
    Column("principal_id", String(100), nullable=False),
    Column("user_name", String(300), nullable=False),
    Column("ic_user_id", String(100), nullable=False),
    Column("not_before", DateTime(timezone=True), nullable=False),
    Column("not_after", DateTime(timezone=True), nullable=True),
    Column("justification", Text, nullable=True),
    Column("ticket", String(200), nullable=True),
    Column("approver", String(300), nullable=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("extended_count", Integer, nullable=False, default=0),
    # 'live' until PIM says it ended (or its end passed); then 'ended' with a reason.
    Column("state", String(16), nullable=False, default="live"),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("end_reason", String(32), nullable=True),
    Column("ticket_system", String(100), nullable=True),  # ticketInfo.ticketSystem
    # PIM's own time of the request that ended the grant early (Graph's createdDateTime);
    # `ended_at` is when the bridge saw the end.
    Column("end_requested_at", DateTime(timezone=True), nullable=True),
    # Who ended it and why, when a person did (`pim-bridge revoke`: the OS user or --actor).
    Column("ended_by", String(300), nullable=True),
    Column("end_note", Text, nullable=True),
    UniqueConstraint(
        "mapping", "source_instance_id", "principal_id", "target_key", name="uq_grant_instance"
    ),
    Index("ix_grants_state_not_after", "state", "not_after"),
)

# What the bridge added to Identity Center and has not yet removed. Only these are "ours".
holdings = Table(
    "holdings",
    metadata,
    Column("ic_user_id", String(100), primary_key=True),
    Column("target_key", String(300), primary_key=True),
    Column("user_name", String(300), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    # 'held', or 'remove_failed' while a revocation keeps failing (retried, never dropped).
    Column("state", String(16), nullable=False, default="held"),
    Column("last_error", Text, nullable=True),
)

# Every change: intent written before the AWS call, outcome after it.
changes = Table(
    "changes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cycle_id", Integer, nullable=True),
    Column("op", String(8), nullable=False),
    Column("ic_user_id", String(100), nullable=False),
    Column("user_name", String(300), nullable=True),
    Column("target_key", String(300), nullable=False),
    Column("mapping", String(64), nullable=True),
    Column("reason", String(16), nullable=False),
    # 'intent' until the call returns; then 'ok' or 'failed'. 'interrupted' after a crash.
    Column("status", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Column("intent_at", DateTime(timezone=True), nullable=False),
    Column("outcome_at", DateTime(timezone=True), nullable=True),
    Index("ix_changes_intent_at", "intent_at"),
)

cycles = Table(
    "cycles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # poll | drift | expiry | sync
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("status", String(16), nullable=True),  # ok | partial | failed | dry-run
    Column("summary", JSON, nullable=True),
    # Entra groups Graph answered for: 0 for a cycle that read no PIM state (an expiry judged
    # from the ledger alone, a poll during an outage). None: written before this was kept.
    Column("read_groups", Integer, nullable=True),
)

# Things a human should see: drift, unresolved users, withheld removals, the safety brake.
findings = Table(
    "findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("cycle_id", Integer, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("mapping", String(64), nullable=True),
    Column("detail", Text, nullable=False),
    # Who and what a finding about one user's access is about (drift): read, not parsed.
    Column("user_name", String(300), nullable=True),
    Column("ic_user_id", String(100), nullable=True),
    Column("target", String(300), nullable=True),
)

# Session denials written into permission sets' inline policies (docs/architecture.md).
denials = Table(
    "denials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),  # the revocation time denied before
    Column("ic_user_id", String(100), nullable=False),
    Column("permission_set_arn", String(300), nullable=False),
    Column("accounts", JSON, nullable=False),
    # 'provisioned' once every account's provisioning SUCCEEDED; 'failed' or 'overflow' else;
    # 'disarmed' when a denial armed ahead of an end was withdrawn (extended, ended early).
    Column("status", String(16), nullable=False),
    Column("detail", Text, nullable=True),
    Column("done_at", DateTime(timezone=True), nullable=True),
    Index("ix_denials_user", "ic_user_id"),
)

# Per grant and direction: when PIM changed, when the bridge acted, and when Entra's SCIM
# provisioning exported the same membership change (docs/architecture.md). `scim_at` stays empty
# with `scim_state` 'pending' or 'unknown' (and why, in `detail`) until the logs show it.
lag_samples = Table(
    "lag_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mapping", String(64), nullable=False),
    Column("source_instance_id", String(200), nullable=False),
    Column("kind", String(16), nullable=False),  # activation | removal
    Column("principal_id", String(100), nullable=False),
    Column("user_name", String(300), nullable=False),
    Column("entra_group_id", String(100), nullable=False),
    Column("pim_at", DateTime(timezone=True), nullable=False),
    Column("bridge_at", DateTime(timezone=True), nullable=True),
    Column("scim_at", DateTime(timezone=True), nullable=True),
    Column("scim_state", String(16), nullable=False),  # exported | pending | unknown
    Column("detail", Text, nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("mapping", "source_instance_id", "kind", name="uq_lag_sample"),
    Index("ix_lag_samples_pim_at", "pim_at"),
)

# One row: the current leader's epoch. A new leader bumps it; writes carry the writer's epoch
# and are refused when it is no longer current (see bridge/leader.py).
leader = Table(
    "leader",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("epoch", Integer, nullable=False),
    Column("holder", String(300), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)

# Evidence of use (bridge/activity/): per grant, what its sessions did according to CloudTrail.
activity_digests = Table(
    "activity_digests",
    metadata,
    Column("grant_id", Integer, primary_key=True),
    Column("targets", JSON, nullable=False),  # "permission set @ account" its calls were read for
    Column("calls", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("first_use", DateTime(timezone=True), nullable=True),
    Column("last_use", DateTime(timezone=True), nullable=True),
    Column("services", JSON, nullable=False),  # eventSource -> calls
    Column("used_after_end", Integer, nullable=False),
    Column("used_after_end_first", DateTime(timezone=True), nullable=True),
    Column("used_after_end_call", String(300), nullable=True),
    Column("denied_after_end", Integer, nullable=False),
    Column("denied_after_end_first", DateTime(timezone=True), nullable=True),
    # True once every log file of its window (to its end plus after_end) has been read.
    Column("complete", Boolean, nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=False),
)

# One row per reading of the trail: its counts, the objects it skipped, and whether it finished.
activity_scans = Table(
    "activity_scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("status", String(16), nullable=False),  # running | ok | failed
    Column("objects", Integer, nullable=False, default=0),
    Column("records", Integer, nullable=False, default=0),
    Column("attributed", Integer, nullable=False, default=0),
    Column("unattributed", Integer, nullable=False, default=0),  # Identity Center, no grant
    Column("other", Integer, nullable=False, default=0),  # not an Identity Center session's
    Column("skipped", JSON, nullable=False),  # [{"key": …, "reason": …}]
    Column("detail", Text, nullable=True),
)

# What has been read: log files delivered in [read_from, read_until) for one account and region,
# by the scan that claimed them (claims of a scan that failed or stalled do not count).
activity_coverage = Table(
    "activity_coverage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scan_id", Integer, nullable=False),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("read_from", DateTime(timezone=True), nullable=False),
    Column("read_until", DateTime(timezone=True), nullable=False),
    Index("ix_activity_coverage_account", "account_id", "region"),
)

# Users an incident's `pim-bridge revoke` blocked: never granted, every session denied, until
# `pim-bridge unblock`. `placements` records where the open-ended denials were written
# (policy name -> user id -> accounts), for the unblock to lift them there.
blocked_users = Table(
    "blocked_users",
    metadata,
    Column("ic_user_id", String(100), primary_key=True),
    Column("user_name", String(300), nullable=False),
    Column("blocked_by", String(300), nullable=False),
    Column("reason", Text, nullable=True),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("placements", JSON, nullable=False),
)


# The membership watcher's place in each delta query (bridge/watch.py): where its next round
# starts, so a restart or a new leader resumes instead of reading every group again.
delta_links = Table(
    "delta_links",
    metadata,
    Column("key", String(64), primary_key=True),  # digest of the query's sorted group ids
    Column("group_ids", JSON, nullable=False),
    Column("link", Text, nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
)


# `pim-bridge revoke` / `unblock` run while a service leads the store: the request, handed to
# the leader through the ledger, and the outcome it recorded (bridge/incident_relay.py).
incident_requests = Table(
    "incident_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("verb", String(20), nullable=False),  # revoke | unblock
    Column("request", JSON, nullable=False),  # the verb's arguments
    Column("state", String(20), nullable=False),  # queued | running | done | cancelled
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),  # not started after this
    Column("requested_by", String(300), nullable=False),  # host:pid of the CLI
    Column("performed_by", String(300), nullable=True),  # the leader's replica name
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("exit_code", Integer, nullable=True),
    Column("done", JSON, nullable=True),  # the outcome's lines
    Column("failed", JSON, nullable=True),
    Column("error", Text, nullable=True),  # a config or usage error that stopped it
    Index("ix_incident_requests_state", "state"),
)
