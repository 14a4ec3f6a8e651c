"""The records' store itself, on SQLite and a real PostgreSQL: the migrations make exactly
the tables the code uses, several managers starting at once migrate once, and a store that
cannot be reached stops the manager's start with what is wrong."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lab_workspace_manager.errors import BackendUnavailable
from lab_workspace_manager.store import Store
from lab_workspace_manager.store.schema import metadata
from tests.support.settings import make_settings

OURS = set(metadata.tables)


def test_the_migrations_make_the_tables_the_code_uses(records: dict[str, Any]) -> None:
    store = Store.from_settings(make_settings(**records))
    try:
        # Four managers starting at once: one migrates, the others find it done.
        with ThreadPoolExecutor(4) as pool:
            for done in [pool.submit(store.migrate) for _ in range(4)]:
                done.result()
        with store.engine.connect() as connection:
            if store.schema:
                connection.exec_driver_sql(f'SET search_path TO "{store.schema}"')
            context = MigrationContext.configure(
                connection, opts={"version_table_schema": store.schema}
            )
            assert context.get_current_revision() == "0001"
            differences = [
                difference
                for difference in compare_metadata(context, metadata)
                # (the schema also holds Alembic's own table, and the shared state's)
                if not (difference[0] == "remove_table" and difference[1].name not in OURS)
            ]
            assert differences == []
    finally:
        store.close()


def test_an_unreachable_database_says_so() -> None:
    settings = make_settings(database_url="postgresql://u:p@127.0.0.1:9/none")
    store = Store.from_settings(settings)
    with pytest.raises(BackendUnavailable, match="cannot be written now"), store.writing():
        pass
    store.close()
