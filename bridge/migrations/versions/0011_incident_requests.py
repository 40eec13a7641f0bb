"""Incident requests: a `revoke` or `unblock` handed through the ledger to the service that leads
the store, and the outcome it recorded.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incident_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("verb", sa.String(20), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("deadline", TS, nullable=False),
        sa.Column("requested_by", sa.String(300), nullable=False),
        sa.Column("performed_by", sa.String(300), nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("done", sa.JSON, nullable=True),
        sa.Column("failed", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_incident_requests_state", "incident_requests", ["state"])


def downgrade() -> None:
    op.drop_index("ix_incident_requests_state", table_name="incident_requests")
    op.drop_table("incident_requests")
