"""Evidence of use: per-grant CloudTrail digests, the trail's readings and what they covered.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "activity_digests",
        sa.Column("grant_id", sa.Integer, primary_key=True),
        sa.Column("targets", sa.JSON, nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("first_use", TS, nullable=True),
        sa.Column("last_use", TS, nullable=True),
        sa.Column("services", sa.JSON, nullable=False),
        sa.Column("used_after_end", sa.Integer, nullable=False),
        sa.Column("used_after_end_first", TS, nullable=True),
        sa.Column("used_after_end_call", sa.String(300), nullable=True),
        sa.Column("denied_after_end", sa.Integer, nullable=False),
        sa.Column("denied_after_end_first", TS, nullable=True),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("read_at", TS, nullable=False),
    )
    op.create_table(
        "activity_scans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("objects", sa.Integer, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("attributed", sa.Integer, nullable=False),
        sa.Column("unattributed", sa.Integer, nullable=False),
        sa.Column("other", sa.Integer, nullable=False),
        sa.Column("skipped", sa.JSON, nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
    )
    op.create_table(
        "activity_coverage",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scan_id", sa.Integer, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("read_from", TS, nullable=False),
        sa.Column("read_until", TS, nullable=False),
    )
    op.create_index("ix_activity_coverage_account", "activity_coverage", ["account_id", "region"])


def downgrade() -> None:
    op.drop_table("activity_coverage")
    op.drop_table("activity_scans")
    op.drop_table("activity_digests")
