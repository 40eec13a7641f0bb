"""Alembic environment: runs on the connection the ledger hands over (no alembic.ini needed)."""

from alembic import context

from bridge.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
