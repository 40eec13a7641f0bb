"""The membership watcher's delta links: where each delta query's next round starts.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delta_links",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("group_ids", sa.JSON, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("delta_links")
