"""A grant is keyed by its principal too: two principals listed under one PIM instance id
(a malformed payload) are two grants, and neither displaces the other's.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BEFORE = ["mapping", "source_instance_id", "target_key"]
_AFTER = ["mapping", "source_instance_id", "principal_id", "target_key"]


def upgrade() -> None:
    # Batch mode: SQLite alters a constraint by copying the table.
    with op.batch_alter_table("grants") as batch:
        batch.drop_constraint("uq_grant_instance", type_="unique")
        batch.create_unique_constraint("uq_grant_instance", _AFTER)


def downgrade() -> None:
    with op.batch_alter_table("grants") as batch:
        batch.drop_constraint("uq_grant_instance", type_="unique")
        batch.create_unique_constraint("uq_grant_instance", _BEFORE)
