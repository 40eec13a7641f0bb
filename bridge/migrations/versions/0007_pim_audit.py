"""What PIM's requests say beyond the justification: the ticket's system, and PIM's own time of
the request that ended a grant early, which the report measures revocation from.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("ticket_system", sa.String(100), nullable=True))
        batch.add_column(sa.Column("end_requested_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.drop_column("end_requested_at")
        batch.drop_column("ticket_system")
