"""SCIM lag samples: PIM, bridge and SCIM export times per grant and direction.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lag_samples",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("mapping", sa.String(64), nullable=False),
        sa.Column("source_instance_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("principal_id", sa.String(100), nullable=False),
        sa.Column("user_name", sa.String(300), nullable=False),
        sa.Column("entra_group_id", sa.String(100), nullable=False),
        sa.Column("pim_at", TS, nullable=False),
        sa.Column("bridge_at", TS, nullable=True),
        sa.Column("scim_at", TS, nullable=True),
        sa.Column("scim_state", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("recorded_at", TS, nullable=False),
        sa.UniqueConstraint("mapping", "source_instance_id", "kind", name="uq_lag_sample"),
    )
    op.create_index("ix_lag_samples_pim_at", "lag_samples", ["pim_at"])


def downgrade() -> None:
    op.drop_table("lag_samples")
