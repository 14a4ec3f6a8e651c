"""The manager's records: the audit log and usage by day, kept durably in SQL.

An SQLite file in DATA_DIR (`records.db`) by default, the PostgreSQL of DATABASE_URL when it
is set (in the installation's own schema, `lwm_<instance>`, beside the shared state). The
tables are made and changed by Alembic migrations (`migrations/versions`), run at start by
whichever manager comes first while the others wait for it.

Every call is blocking (run it in a thread); SQLite's writers take the whole file
(`BEGIN IMMEDIATE`), so managers sharing DATA_DIR take turns, as they do with PostgreSQL's row
locks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

from ..errors import BackendUnavailable
from ..settings import Settings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_FILE = "records.db"
BUSY_SECONDS = 30  # an SQLite writer waits this long for another's transaction to end


class Store:
    def __init__(self, engine: Engine, schema: str | None = None) -> None:
        self.engine = engine
        self.schema = schema  # PostgreSQL: the installation's schema

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        if settings.database_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            return cls(sqlite_engine(settings.data_dir / SQLITE_FILE))
        schema = "lwm_" + settings.instance_id.replace("-", "_")
        url = sa.engine.make_url(settings.database_url.get_secret_value())
        engine = sa.create_engine(
            url.set(drivername="postgresql+psycopg"),
            # A connection per transaction, closed after it: the records are written in
            # batches (every half second at most) and read on an administrator's page, so no
            # idle connection is kept to go stale or be left open when the manager stops.
            poolclass=sa.pool.NullPool,
            # No call waits long for a database that stopped answering, nor runs long.
            connect_args={"connect_timeout": 10, "options": "-c statement_timeout=30s"},
            # The tables are named without their schema; each connection looks there.
            execution_options={"schema_translate_map": {None: schema}},
        )
        return cls(engine, schema)

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A transaction that writes: committed when the block ends without an error."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except sa.exc.OperationalError as exc:
            raise BackendUnavailable(
                f"The manager's records (audit log, usage) cannot be written now: {exc.orig}"
            ) from exc

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        try:
            with self.engine.connect().execution_options(reading=True) as connection:
                yield connection
        except sa.exc.OperationalError as exc:
            raise BackendUnavailable(
                f"The manager's records (audit log, usage) cannot be read now: {exc.orig}"
            ) from exc

    def migrate(self) -> None:
        """Bring the tables to the newest migration; another manager doing so is waited for."""
        try:
            self._migrate()
        except sa.exc.OperationalError as exc:
            raise BackendUnavailable(
                f"The manager's records (audit log, usage) cannot be reached: {exc.orig}. "
                "Check DATABASE_URL and that the database answers, or the space in DATA_DIR."
            ) from exc

    def _migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if self.schema is not None:
                # One manager at a time (released when the transaction ends).
                connection.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock(hashtext(%(key)s))", {"key": self.schema}
                )
                connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                connection.exec_driver_sql(f'SET LOCAL search_path TO "{self.schema}"')
            config.attributes["connection"] = connection
            config.attributes["schema"] = self.schema
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()


def sqlite_engine(path: Path) -> Engine:
    engine = sa.create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": BUSY_SECONDS, "check_same_thread": False},
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Transactions are begun below, not by the driver (which would begin them deferred).
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")  # readers do not wait for writers
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A writer takes the file at once, so two managers' read-then-write never interleave;
        # a reader (`Store.reading`) takes nothing, and never keeps writers waiting.
        reading = connection.get_execution_options().get("reading", False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    return engine


__all__ = ["Store"]
