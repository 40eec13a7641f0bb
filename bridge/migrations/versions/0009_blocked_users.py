"""Incident response: users blocked by `pim-bridge revoke`, and who ended a grant and why.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "blocked_users",
        sa.Column("ic_user_id", sa.String(100), primary_key=True),
        sa.Column("user_name", sa.String(300), nullable=False),
        sa.Column("blocked_by", sa.String(300), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("since", TS, nullable=False),
        sa.Column("placements", sa.JSON, nullable=False),
    )
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("ended_by", sa.String(300), nullable=True))
        batch.add_column(sa.Column("end_note", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("end_note")
        batch.drop_column("ended_by")
    op.drop_table("blocked_users")
