"""The audit log: who did what to which workspace, when, from where, and how it ended.

Every request that changes something or grants access is an entry (`api/audit_trail.py`
writes them, named by the route's operation id: `createWorkspace`, `shareWorkspace`,
`issueToken`, `login`, ...), and so is what the manager does by itself (automatic stops with
their reason, scheduled starts, leftovers the reconciler removed). Entries go to the store
(`store/`) in batches, off the request's path: a request never waits for the log, and a
manager that stops writes what it still holds.

Nothing secret is written: no token, cookie, query string or request body; a detail is one
of our own messages, and anything in it shaped like a credential is masked anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import anyio.to_thread
import sqlalchemy as sa
from pydantic import BaseModel, Field

from .csv_lines import csv_line
from .errors import ManagerError
from .store import Store
from .store.schema import audit_entries

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.5  # entries are written this often (and when the manager stops)
HELD_AT_MOST = 10_000  # entries waiting for the store; past this the oldest are dropped
DETAIL_CHARS = 500
CSV_BATCH = 1000
PRUNE_BATCH = 5000
# Masked in any detail: credentials after their scheme, JWTs, and values named like secrets.
_SECRETS = re.compile(
    r"(?i)(\b(?:bearer|basic)\s+)\S+"
    r"|eyJ[\w-]+\.[\w-]+\.[\w-]*"
    r"|(\b[\w-]*(?:token|password|passwd|secret|api[_-]?key|cookie|session|code)\b"
    r"[\"']?\s*(?:=|:|%3D)\s*[\"']?)[^\s\"'&,;]+"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

MANAGER = "the manager"  # what the web app shows for an entry without an actor


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str | None = Field(description="Who acted; null for the manager itself.")
    actor_is_admin: bool
    action: str = Field(description="The API operation (e.g. createWorkspace) or automatic*.")
    owner: str | None = Field(description="Whose workspace (or token) it was about.")
    workspace_id: str | None
    address: str | None = Field(description="The address the request came from.")
    result: Literal["ok", "failed"]
    status: int | None = Field(description="The HTTP status the request was answered with.")
    detail: str


class AuditPage(BaseModel):
    items: list[AuditEntry]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    owner: str | None = None
    workspace_id: str | None = None
    action: str | None = None
    result: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        c = audit_entries.c
        conditions = [
            column == value
            for column, value in (
                (c.actor, self.actor),
                (c.owner, self.owner),
                (c.workspace_id, self.workspace_id),
                (c.action, self.action),
                (c.result, self.result),
            )
            if value is not None
        ]
        if self.since is not None:
            conditions.append(c.at >= self.since)
        if self.until is not None:
            conditions.append(c.at < self.until)
        return conditions


def printable(text: str | None, limit: int) -> str | None:
    """Without control characters (a NUL the database refuses, line breaks that would forge
    lines in a reader), and at most `limit` characters."""
    if text is None:
        return None
    return _CONTROL.sub("?", text)[:limit]


def mask_secrets(text: str) -> str:
    masked = _SECRETS.sub(lambda m: (m.group(1) or m.group(2) or "") + "***", text)
    return masked[:DETAIL_CHARS]


class AuditLog:
    def __init__(self, store: Store, retention_days: int) -> None:
        self._store = store
        self._retention_days = retention_days
        self._held: list[dict[str, object]] = []
        self._dropped = 0  # entries not kept while the store was behind
        self._flushing = asyncio.Lock()  # one writer at a time: entries go in in order
        self._writer: asyncio.Task[None] | None = None

    def record(
        self,
        action: str,
        *,
        actor: str | None,
        actor_is_admin: bool = False,
        owner: str | None = None,
        workspace_id: str | None = None,
        address: str | None = None,
        ok: bool = True,
        status: int | None = None,
        detail: str = "",
    ) -> None:
        """Keep an entry to write (never blocks, never fails the caller). While the store is
        behind, at most HELD_AT_MOST wait: the earliest are kept, and how many were not is
        written once it is back."""
        if len(self._held) >= HELD_AT_MOST:
            self._dropped += 1
            return
        self._held.append(
            {
                "at": datetime.now(UTC),
                "actor": printable(actor, 200),
                "actor_is_admin": actor_is_admin,
                "action": printable(action, 64),
                "owner": printable(owner, 200),
                "workspace_id": printable(workspace_id, 64),
                "address": printable(address, 64),
                "result": "ok" if ok else "failed",
                "status": status,
                "detail": mask_secrets(printable(detail, 10 * DETAIL_CHARS) or ""),
            }
        )

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_now_and_then())

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
        await self.flush()

    async def _write_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:  # (the store is down: kept, and tried again)
                log.exception("audit entries could not be written yet")

    async def flush(self) -> None:
        """Write what is held. A store that cannot be reached keeps it for the next try."""
        async with self._flushing:
            if self._dropped:
                self.record(
                    "auditEntriesDropped",
                    actor=None,
                    ok=False,
                    detail=f"{self._dropped} entries were not kept while the store was behind",
                )
                self._dropped = 0
            if not self._held:
                return
            batch, self._held = self._held, []
            try:
                await anyio.to_thread.run_sync(self._insert, batch)
            except BaseException:
                self._held[:0] = batch
                del self._held[HELD_AT_MOST:]
                raise

    async def flush_quietly(self) -> None:
        """Before a read: what was just done is in it, if the store takes it now."""
        with contextlib.suppress(ManagerError):
            await self.flush()

    def _insert(self, batch: list[dict[str, object]]) -> None:
        try:
            with self._store.writing() as connection:
                connection.execute(audit_entries.insert(), batch)
        except sa.exc.SQLAlchemyError:
            # One entry the database refuses must not hold back the others: each alone.
            for entry in batch:
                try:
                    with self._store.writing() as connection:
                        connection.execute(audit_entries.insert(), [entry])
                except sa.exc.SQLAlchemyError as exc:
                    log.error("an audit entry (%s) was refused: %s", entry["action"], exc)

    # --- reading (blocking: call in a thread) ---------------------------------------------

    def page(self, where: AuditFilter, limit: int, offset: int) -> AuditPage:
        """Newest first."""
        conditions = where.where()
        with self._store.reading() as connection:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(audit_entries).where(*conditions)
            ).scalar_one()
            rows = connection.execute(
                sa.select(audit_entries)
                .where(*conditions)
                .order_by(audit_entries.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).mappings()
            items = [AuditEntry.model_validate(_aware(dict(row))) for row in rows]
        return AuditPage(items=items, total=total, limit=limit, offset=offset)

    def csv_lines(self, where: AuditFilter) -> Iterator[str]:
        """The matching entries as CSV, oldest first, read a batch at a time (an export of
        a year's log never sits in memory whole)."""
        columns = list(AuditEntry.model_fields)
        yield csv_line(list(columns))
        after = 0
        while True:
            with self._store.reading() as connection:
                rows = list(
                    connection.execute(
                        sa.select(audit_entries)
                        .where(*where.where(), audit_entries.c.id > after)
                        .order_by(audit_entries.c.id)
                        .limit(CSV_BATCH)
                    ).mappings()
                )
            if not rows:
                return
            for row in rows:
                entry = _aware(dict(row))
                yield csv_line([entry[name] for name in columns])
            after = rows[-1]["id"]

    def prune(self) -> int:
        """Remove entries older than the retention (none: 0 days); how many. A few thousand
        at a time, so that writers never wait long for the store."""
        if self._retention_days <= 0:
            return 0
        before = datetime.now(UTC) - timedelta(days=self._retention_days)
        removed = 0
        while True:
            with self._store.writing() as connection:
                oldest = (
                    sa.select(audit_entries.c.id)
                    .where(audit_entries.c.at < before)
                    .order_by(audit_entries.c.id)
                    .limit(PRUNE_BATCH)
                    .scalar_subquery()
                )
                done = connection.execute(
                    audit_entries.delete().where(audit_entries.c.id.in_(oldest))
                ).rowcount
            removed += int(done or 0)
            if not done or done < PRUNE_BATCH:
                return removed


def _aware(row: dict[str, object]) -> dict[str, object]:
    """SQLite gives times back without their zone; they were written in UTC."""
    at = row["at"]
    if isinstance(at, datetime) and at.tzinfo is None:
        row["at"] = at.replace(tzinfo=UTC)
    return row
