"""Session denials written into permission sets' inline policies.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "denials",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("ic_user_id", sa.String(100), nullable=False),
        sa.Column("permission_set_arn", sa.String(300), nullable=False),
        sa.Column("accounts", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("done_at", TS, nullable=True),
    )
    op.create_index("ix_denials_user", "denials", ["ic_user_id"])


def downgrade() -> None:
    op.drop_table("denials")
