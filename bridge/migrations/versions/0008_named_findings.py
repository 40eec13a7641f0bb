"""A finding about one user's access keeps who it is about (their name and Identity Center id)
and the target's name, so the report reads them instead of parsing the text; a cycle keeps how
many Entra groups it read, so health can tell a cycle that read PIM from one that did not.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.add_column(sa.Column("user_name", sa.String(300), nullable=True))
        batch.add_column(sa.Column("ic_user_id", sa.String(100), nullable=True))
        batch.add_column(sa.Column("target", sa.String(300), nullable=True))
    with op.batch_alter_table("cycles") as batch:
        batch.add_column(sa.Column("read_groups", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cycles") as batch:
        batch.drop_column("read_groups")
    with op.batch_alter_table("findings") as batch:
        batch.drop_column("target")
        batch.drop_column("ic_user_id")
        batch.drop_column("user_name")
