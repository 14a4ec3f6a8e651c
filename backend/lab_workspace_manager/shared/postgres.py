"""Shared state in PostgreSQL (see `__init__.py` for what is shared): for managers on several
hosts, such as the replicas of the manager's service on a swarm (`DATABASE_URL`).

- locks and name claims are session advisory locks, each held on a connection of its own
  for as long as it is held: PostgreSQL releases them when that connection ends, so a
  manager that dies (or whose host does) holds nothing once its connections are gone;
- used codes, activity, creates under way, documents and secrets are rows;
- events go to the others with NOTIFY and come from them with LISTEN.

Each installation (`WORKSPACE_MANAGER_INSTANCE`) has a schema of its own, `lwm_<instance>`, so
one database may serve several. The tables are made at first use (`SCHEMA`; what changes them
later will be a migration).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import queue
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from ..errors import ManagerError
from . import (
    POLL_SECONDS,
    STALE_PENDING_SECONDS,
    USED_SECONDS,
    Document,
    Held,
    HeldElsewhere,
    SharedState,
)

log = logging.getLogger(__name__)

CONNECT_SECONDS = 10  # to wait for a connection (new, or free in the pool) at most
CLAIM_WAIT = 1.0  # a name is claimed on the event loop: for a free connection it waits this long
EVENT_BYTES = 7900  # NOTIFY carries 8000 bytes at most: longer events stay with their manager
# Connections that stay open across idle firewalls and notice a dead server (or host).
# Connections that stay open across idle firewalls and notice a dead server (or host): no call
# waits longer than a few seconds for a database that stopped answering.
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "tcp_user_timeout": 10_000,  # ms: unacknowledged data this long ends the connection
}
STATEMENT_TIMEOUT = "5s"

SCHEMA = """
CREATE TABLE IF NOT EXISTS lock_holders (key text PRIMARY KEY, holder text NOT NULL);
CREATE TABLE IF NOT EXISTS used_once (nonce text PRIMARY KEY, at double precision NOT NULL);
CREATE TABLE IF NOT EXISTS activity (workspace_id text PRIMARY KEY, at double precision NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
    workspace_id text PRIMARY KEY,
    status text NOT NULL,
    message text NOT NULL,
    at double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (name text PRIMARY KEY, body text NOT NULL,
    generation text NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (name text PRIMARY KEY, value text NOT NULL);
"""


class DatabaseUnavailable(ManagerError):
    status_code = 503


class PostgresSharedState(SharedState):
    def __init__(self, url: str, instance_id: str, connections: int) -> None:
        self.me = secrets.token_hex(8)
        self.schema = "lwm_" + instance_id.replace("-", "_")
        self._url = url
        self._channel = f"{self.schema}_events"
        self._connections = connections
        self._pool: ConnectionPool | None = None  # opened at first use
        self._opening = threading.Lock()
        self._claims: dict[str, tuple[psycopg.Connection[Any], int]] = {}
        self._outbox: queue.Queue[str | None] = queue.Queue(maxsize=10_000)
        self._threads: list[threading.Thread] = []  # listening
        self._sender: threading.Thread | None = None  # started with the first event
        self._sending = threading.Lock()
        self._closing = threading.Event()

    # --- connections --------------------------------------------------------------------------
    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        conn.execute(sql.SQL("SET statement_timeout TO {}").format(sql.Literal(STATEMENT_TIMEOUT)))

    def _open(self) -> ConnectionPool:
        """The pool, opened (and the schema made) at first use: a backend made in a test, or
        by a command that never needs it, connects to nothing."""
        with self._opening:
            if self._pool is not None:
                return self._pool
            pool = ConnectionPool(
                self._url,
                min_size=1,
                max_size=self._connections,
                timeout=CONNECT_SECONDS,
                kwargs={"autocommit": True, "connect_timeout": CONNECT_SECONDS, **KEEPALIVES},
                configure=self._configure,
                reset=_let_go_of_locks,
                open=False,
                name="shared-state",
            )
            try:
                # One connection first: a refused one fails at once, with the server's words
                # (the pool would try again until its timeout).
                psycopg.connect(self._url, autocommit=True, connect_timeout=CONNECT_SECONDS).close()
                pool.open(wait=True, timeout=CONNECT_SECONDS)
                with pool.connection() as conn, conn.transaction():
                    # One manager at a time (CREATE ... IF NOT EXISTS races with another).
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_id("schema"),))
                    schema = sql.Identifier(self.schema)
                    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
                    conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(schema))
                    conn.execute(SCHEMA)
            except (psycopg.Error, OSError) as exc:
                pool.close()
                raise DatabaseUnavailable(
                    f"The database (DATABASE_URL) cannot be reached: {exc}. Start it, or "
                    "correct DATABASE_URL."
                ) from exc
            self._pool = pool
            return pool

    def prepare(self) -> None:
        self._open()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        pool = self._open()
        try:
            with pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(
                f"The database (DATABASE_URL) did not answer: {exc}. Try again in a moment."
            ) from exc

    def _one(self, query: str, *args: Any) -> tuple[Any, ...] | None:
        with self._connection() as conn:
            return conn.execute(query, args).fetchone()

    def _run(self, query: str, *args: Any) -> int:
        with self._connection() as conn:
            return conn.execute(query, args).rowcount

    def _key(self, *key: str) -> int:
        return _lock_id(self.schema, *key)

    # --- locks --------------------------------------------------------------------------------
    @asynccontextmanager
    async def lock(self, *key: str, wait: bool = True) -> AsyncIterator[Held]:
        """Waiting holds no connection: each try takes one and gives it back unless it got
        the lock."""
        lock_id = self._key(*key)
        pool = await asyncio.to_thread(self._open)
        while (conn := await _take_in_thread(pool, lock_id)) is None:
            if not wait:
                raise HeldElsewhere
            await asyncio.sleep(POLL_SECONDS)
        try:
            yield AdvisoryLock(conn, _digest("\0".join(key)))
        finally:
            await asyncio.to_thread(_release, pool, conn, lock_id)

    @contextmanager
    def holding(self, *key: str) -> Iterator[None]:
        lock_id = self._key(*key)
        pool = self._open()
        while (conn := _take(pool, lock_id)) is None:
            time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            _release(pool, conn, lock_id)

    # --- names --------------------------------------------------------------------------------
    def claim_name(self, owner: str, folded_name: str) -> str | None:
        """A claim is a lock held on a connection of its own until it is released (or its
        manager dies)."""
        conn = _take(self._open(), self._key("name", owner, folded_name), CLAIM_WAIT)
        if conn is None:
            return None
        claim = secrets.token_hex(8)
        self._claims[claim] = (conn, self._key("name", owner, folded_name))
        return claim

    def release_name(self, owner: str, folded_name: str, claim: str) -> None:
        held = self._claims.pop(claim, None)
        if held is None:
            return
        _release(self._open(), *held)

    # --- single use ---------------------------------------------------------------------------
    def use_once(self, nonce: str) -> bool:
        return (
            self._run(
                "INSERT INTO used_once VALUES (%s, %s) ON CONFLICT DO NOTHING",
                _digest(nonce),
                time.time(),
            )
            == 1
        )

    # --- activity -----------------------------------------------------------------------------
    def touch(self, workspace_id: str, when: float) -> None:
        self._run(
            "INSERT INTO activity VALUES (%s, %s) ON CONFLICT (workspace_id) "
            "DO UPDATE SET at = greatest(activity.at, excluded.at)",
            workspace_id,
            when,
        )

    def last_activity(self, workspace_id: str) -> float | None:
        row = self._one("SELECT at FROM activity WHERE workspace_id = %s", workspace_id)
        return float(row[0]) if row else None

    def forget_activity(self, workspace_id: str) -> None:
        self._run("DELETE FROM activity WHERE workspace_id = %s", workspace_id)

    # --- creates under way --------------------------------------------------------------------
    def set_pending(self, workspace_id: str, status: str, message: str) -> None:
        self._run(
            "INSERT INTO pending VALUES (%s, %s, %s, %s) ON CONFLICT (workspace_id) DO UPDATE "
            "SET status = excluded.status, message = excluded.message, at = excluded.at",
            workspace_id,
            status,
            message,
            time.time(),
        )

    def pending(self, workspace_id: str) -> tuple[str, str] | None:
        row = self._one(
            "SELECT status, message FROM pending WHERE workspace_id = %s AND at > %s",
            workspace_id,
            time.time() - STALE_PENDING_SECONDS,
        )
        return (str(row[0]), str(row[1])) if row else None

    def clear_pending(self, workspace_id: str) -> None:
        self._run("DELETE FROM pending WHERE workspace_id = %s", workspace_id)

    # --- documents and secrets ----------------------------------------------------------------
    def document(self, name: str) -> Document:
        return RowDocument(self, name)

    def kept_secret(self, name: str) -> str:
        self._run(
            "INSERT INTO secrets VALUES (%s, %s) ON CONFLICT DO NOTHING",
            name,
            secrets.token_urlsafe(32),
        )
        row = self._one("SELECT value FROM secrets WHERE name = %s", name)
        assert row is not None
        return str(row[0])

    # --- tidying ------------------------------------------------------------------------------
    def sweep(self) -> int:
        now = time.time()
        return self._run("DELETE FROM used_once WHERE at < %s", now - USED_SECONDS) + self._run(
            "DELETE FROM pending WHERE at < %s", now - STALE_PENDING_SECONDS
        )

    # --- events -------------------------------------------------------------------------------
    def broadcast(self, message: str) -> None:
        payload = json.dumps({"from": self.me, "event": message}, ensure_ascii=False)
        if len(payload.encode()) > EVENT_BYTES:
            return  # (stays with its manager; the others see the state it led to)
        with self._sending:
            if self._sender is None:
                self._sender = threading.Thread(
                    target=self._send_events, daemon=True, name="shared-events-out"
                )
                self._sender.start()
        try:
            self._outbox.put_nowait(payload)
        except queue.Full:
            log.warning("events are not passed on to the other managers: the database is slow")

    def listen(self, receive: Callable[[str], None]) -> None:
        thread = threading.Thread(
            target=self._receive_events, args=(receive,), daemon=True, name="shared-events-in"
        )
        thread.start()
        self._threads.append(thread)

    def _send_events(self) -> None:
        while (message := self._outbox.get()) is not None:
            try:
                self._run("SELECT pg_notify(%s, %s)", self._channel, message)
            except Exception as exc:  # (one event lost; the next ones still go)
                log.warning("an event was not passed on to the other managers: %s", exc)

    def _receive_events(self, receive: Callable[[str], None]) -> None:
        """Listen on a connection of its own (NOTIFY is delivered between transactions; a
        pooled connection would miss what came while another used it); again after it broke."""
        while not self._closing.is_set():
            try:
                with psycopg.connect(
                    self._url, autocommit=True, connect_timeout=CONNECT_SECONDS, **KEEPALIVES
                ) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                    while not self._closing.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            self._deliver(notice.payload, receive)
            except (psycopg.Error, OSError) as exc:
                if not self._closing.is_set():
                    log.warning("events from the other managers: %s; listening again", exc)
                    self._closing.wait(1.0)

    def _deliver(self, payload: str, receive: Callable[[str], None]) -> None:
        """One notice: an event of another manager's. Anything else is logged and skipped
        (it must not end the listening)."""
        try:
            found = json.loads(payload)
            if found["from"] != self.me:
                receive(str(found["event"]))
        except Exception as exc:
            log.warning("a notice that is not an event of a manager was skipped: %s", exc)

    def close(self) -> None:
        self._closing.set()
        with contextlib.suppress(queue.Full):
            self._outbox.put_nowait(None)
        for thread in [*self._threads, *([self._sender] if self._sender else [])]:
            thread.join(timeout=3)
        # Name claims still held hold a connection each, out of the pool: closing it lets go
        # of the claim (the pool does not close what it handed out).
        for conn, _ in self._claims.values():
            with contextlib.suppress(psycopg.Error):
                conn.close()
        self._claims.clear()
        if self._pool is not None:
            self._pool.close()


class AdvisoryLock(Held):
    def __init__(self, conn: psycopg.Connection[Any], key: str) -> None:
        self._conn = conn
        self._key = key

    def take_over(self, holder: str) -> bool:
        # (Held: nobody else writes this row meanwhile.)
        row = self._conn.execute(
            "SELECT holder FROM lock_holders WHERE key = %s", (self._key,)
        ).fetchone()
        if row is None or row[0] != holder:
            self._conn.execute(
                "INSERT INTO lock_holders VALUES (%s, %s) ON CONFLICT (key) "
                "DO UPDATE SET holder = excluded.holder",
                (self._key, holder),
            )
        return row is None or row[0] != holder


class RowDocument(Document):
    """A row of `documents`: its generation is read on every look, its body when that
    changed."""

    def __init__(self, state: PostgresSharedState, name: str) -> None:
        self._state = state
        self.name = name
        self._lock = threading.Lock()
        self.data: dict[str, Any] = {}
        self.generation: str | None = None
        self.reload()

    def reload(self) -> bool:
        row = self._state._one("SELECT generation FROM documents WHERE name = %s", self.name)
        generation = str(row[0]) if row else ""
        if generation == self.generation:
            return False
        body = self._state._one("SELECT body FROM documents WHERE name = %s", self.name)
        self.data = json.loads(body[0]) if body else {}
        self.generation = generation
        return True

    @contextmanager
    def changing(self) -> Iterator[dict[str, Any]]:
        with self._lock, self._state._connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO documents VALUES (%s, '{}', '') ON CONFLICT DO NOTHING",
                (self.name,),
            )
            row = conn.execute(
                "SELECT body FROM documents WHERE name = %s FOR UPDATE", (self.name,)
            ).fetchone()
            assert row is not None
            self.generation = None
            try:
                self.data = json.loads(row[0])
                yield self.data
                conn.execute(
                    "UPDATE documents SET body = %s, generation = %s WHERE name = %s",
                    (json.dumps(self.data, default=str), secrets.token_hex(8), self.name),
                )
            finally:
                self.generation = None  # whatever happened, read it again next time


def _lock_id(*key: str) -> int:
    """A 64-bit advisory lock id for any key."""
    digest = hashlib.sha256("\0".join(key).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _try_lock(conn: psycopg.Connection[Any], lock_id: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (lock_id,)).fetchone()
    return bool(row and row[0])


def _take(
    pool: ConnectionPool, lock_id: int, wait: float = CONNECT_SECONDS
) -> psycopg.Connection[Any] | None:
    """A connection holding the lock, or None (held elsewhere); the connection goes back to
    the pool whatever happens, unless it holds the lock."""
    try:
        conn = pool.getconn(timeout=wait)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"No connection to the database is free ({exc}): too many changes are under way "
            "at once. Try again in a moment."
        ) from exc
    try:
        if _try_lock(conn, lock_id):
            return conn
    except BaseException:
        pool.putconn(conn)
        raise
    pool.putconn(conn)
    return None


async def _take_in_thread(pool: ConnectionPool, lock_id: int) -> psycopg.Connection[Any] | None:
    """`_take` in a thread; if the waiting task is cancelled meanwhile, a lock the thread
    still got is let go of (not left on a connection nobody holds)."""
    taking = asyncio.ensure_future(asyncio.to_thread(_take, pool, lock_id))
    try:
        return await asyncio.shield(taking)
    except asyncio.CancelledError:

        def undo(done: asyncio.Future[psycopg.Connection[Any] | None]) -> None:
            if not done.cancelled() and done.exception() is None and done.result() is not None:
                threading.Thread(target=_release, args=(pool, done.result(), lock_id)).start()

        taking.add_done_callback(undo)
        raise


def _release(pool: ConnectionPool, conn: psycopg.Connection[Any], lock_id: int) -> None:
    """Let go of the lock and give the connection back (the pool's reset lets go of any
    lock left on it, should the unlock fail)."""
    try:
        _unlock(conn, lock_id)
    except psycopg.Error as exc:
        log.warning("a lock was not let go of (the pool resets its connection): %s", exc)
    finally:
        pool.putconn(conn)


def _unlock(conn: psycopg.Connection[Any], lock_id: int) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s)", (lock_id,))


def _let_go_of_locks(conn: psycopg.Connection[Any]) -> None:
    """A connection back in the pool holds no lock (one left by a holder cut short)."""
    conn.execute("SELECT pg_advisory_unlock_all()")
