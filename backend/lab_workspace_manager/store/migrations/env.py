"""Alembic's entry point, run by `Store.migrate` with the connection it holds (a lock that
keeps two managers from migrating at once is taken on it first)."""

from __future__ import annotations

from alembic import context

from lab_workspace_manager.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table_schema=context.config.attributes.get("schema"),
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
)
with context.begin_transaction():
    context.run_migrations()
