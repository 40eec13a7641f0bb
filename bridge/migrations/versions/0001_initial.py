"""The first ledger: grants, holdings, changes, cycles, findings.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "grants",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mapping", sa.String(64), nullable=False),
        sa.Column("source_instance_id", sa.String(200), nullable=False),
        sa.Column("target_key", sa.String(300), nullable=False),
        sa.Column("principal_id", sa.String(100), nullable=False),
        sa.Column("user_name", sa.String(300), nullable=False),
        sa.Column("ic_user_id", sa.String(100), nullable=False),
        sa.Column("not_before", TS, nullable=False),
        sa.Column("not_after", TS, nullable=True),
        sa.Column("justification", sa.Text, nullable=True),
        sa.Column("ticket", sa.String(200), nullable=True),
        sa.Column("approver", sa.String(300), nullable=True),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("extended_count", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("end_reason", sa.String(32), nullable=True),
        sa.UniqueConstraint(
            "mapping", "source_instance_id", "target_key", name="uq_grant_instance"
        ),
    )
    op.create_index("ix_grants_state_not_after", "grants", ["state", "not_after"])
    op.create_table(
        "holdings",
        sa.Column("ic_user_id", sa.String(100), primary_key=True),
        sa.Column("target_key", sa.String(300), primary_key=True),
        sa.Column("user_name", sa.String(300), nullable=False),
        sa.Column("since", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cycle_id", sa.Integer, nullable=True),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("ic_user_id", sa.String(100), nullable=False),
        sa.Column("user_name", sa.String(300), nullable=True),
        sa.Column("target_key", sa.String(300), nullable=False),
        sa.Column("mapping", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("intent_at", TS, nullable=False),
        sa.Column("outcome_at", TS, nullable=True),
    )
    op.create_index("ix_changes_intent_at", "changes", ["intent_at"])
    op.create_table(
        "cycles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("summary", sa.JSON, nullable=True),
    )
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("cycle_id", sa.Integer, nullable=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("mapping", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("findings", "cycles", "changes", "holdings", "grants"):
        op.drop_table(table)
