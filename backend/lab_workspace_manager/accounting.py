"""Usage accounting: what each workspace had and used, per UTC day, kept in the store.

Every ACCOUNTING_INTERVAL s a manager counts, for every workspace, the time since it was last
counted: while it runs (or starts), running time and what it reserved (CPUs, memory, GPUs,
each × seconds) and the CPU it was measured to use; running or not, the disk its /workspace
held when last measured (MB × seconds). Seconds are kept; hours and GB are what reports show.

Counted once: how far each workspace is counted is a row (`usage_marks`), read and moved in
the same transaction as the time is added, so a second manager (or the same one again) finds
it counted already. A restart loses nothing of a workspace that kept running: one that was
started before its mark ran all the time since (a stop and a start would have moved its start),
so the next count, by any manager, adds all of it. A change that ends a run (stop, restart,
update, delete, the manager's own stops included) counts the workspace first; what is lost is
the time between the last count and a stop the workspace made itself (it crashed, or ran out
of memory): at most one interval. A workspace is counted from its first count on (at most an
interval before it); nothing before the manager counted is made up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, cast

import anyio.to_thread
import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.dialects import postgresql, sqlite

from .backends import WorkspaceBackend, WorkspaceState
from .csv_lines import csv_line
from .errors import ManagerError
from .models import WorkspaceStatus
from .policies.usage import UsageMonitor
from .store import Store
from .store.schema import usage_days, usage_marks

log = logging.getLogger(__name__)

FORGET_MARKS_SECONDS = 8 * 24 * 3600  # the marks of workspaces gone this long are removed
LONGEST_SPAN = 31 * 24 * 3600.0  # one count adds at most this much of a workspace's time
CHUNK = 500  # ids per statement (databases bound the parameters of one)
CSV_BATCH = 2000  # rows read at a time for an export
RESERVING = (WorkspaceStatus.RUNNING, WorkspaceStatus.PENDING)
DAY = 24 * 3600.0
HOUR = 3600.0
Grouping = Literal["day", "user", "workspace"]
REPORTED = (
    "running_hours",
    "cpu_hours_reserved",
    "memory_gb_hours_reserved",
    "cpu_hours_used",
    "gpu_hours",
    "disk_gb_days",
)
AMOUNTS = (
    "running_seconds",
    "cpu_seconds_reserved",
    "memory_mb_seconds_reserved",
    "cpu_seconds_used",
    "gpu_seconds",
    "disk_mb_seconds",
)


@dataclass(frozen=True)
class Rates:
    """What one workspace has per second now (all zero but disk while it is stopped)."""

    owner: str
    display_name: str
    since: float  # counted from no earlier than this (its start or creation), Unix s
    running: float  # 1 while it runs
    cpus: float
    memory_mb: float
    cpu_used: float  # CPUs, as measured
    gpus: float
    disk_mb: float


class UsageRow(BaseModel):
    day: date | None = Field(None, description="Set when grouped by day.")
    owner: str | None = Field(None, description="Set when grouped by user or workspace.")
    workspace_id: str | None = None
    display_name: str | None = None
    running_hours: float
    cpu_hours_reserved: float
    memory_gb_hours_reserved: float
    cpu_hours_used: float
    gpu_hours: float
    disk_gb_days: float


class UsageReport(BaseModel):
    since: date
    until: date = Field(description="The last day counted in (inclusive).")
    group: Grouping
    rows: list[UsageRow]
    total: UsageRow


def rates_of(state: WorkspaceState, monitor: UsageMonitor, now: float) -> Rates:
    sample = monitor.sample(state.id)
    compute = state.spec.compute
    runs = state.status in RESERVING
    # Counted from its start while it runs; where the engine has not said when it started
    # (yet), from its mark: a manager just started does not know, and must not lose the time.
    started = state.started_at.timestamp() if state.started_at else 0.0
    cpu_percent = sample.compute.cpu_percent if sample and runs else None
    return Rates(
        owner=state.owner,
        display_name=state.spec.display_name,
        since=started if runs else state.created_at.timestamp(),
        running=1.0 if runs else 0.0,
        cpus=compute.cpus if runs else 0.0,
        memory_mb=float(compute.memory) if runs else 0.0,
        cpu_used=(cpu_percent or 0.0) / 100,
        gpus=float(compute.gpus) if runs else 0.0,
        disk_mb=float(sample.disk.volume_used or 0) if sample else 0.0,
    )


def chunks(ids: list[str]) -> Iterator[list[str]]:
    for at in range(0, len(ids), CHUNK):
        yield ids[at : at + CHUNK]


def split_by_day(start: float, end: float) -> Iterator[tuple[date, float]]:
    """(UTC day, seconds of [start, end) in it)."""
    while start < end:
        day = datetime.fromtimestamp(start, UTC).date()
        next_day = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + DAY
        stop = min(end, next_day)
        yield day, stop - start
        start = stop


class UsageAccounting:
    def __init__(
        self, store: Store, backend: WorkspaceBackend, monitor: UsageMonitor, interval: float
    ) -> None:
        self._store = store
        self._backend = backend
        self._monitor = monitor
        self._interval = interval
        self._writing: set[asyncio.Task[int]] = set()

    async def count(self, now: float | None = None) -> int:
        """Count every workspace's time since it was last counted; how many were (none before
        the disks were first measured: the time waits for the next count)."""
        if not self._monitor.disks_measured:
            return 0
        moment = time.time() if now is None else now
        states = await self._backend.list_workspaces(None)
        rates = {state.id: rates_of(state, self._monitor, moment) for state in states}
        return await anyio.to_thread.run_sync(self._count, rates, moment)

    async def before_change(self, owner: str, workspace_id: str) -> None:
        """Count a running workspace up to now, before a change ends its run (a stop, restart,
        update or delete): a short run between two counts is not lost. The change never waits
        for the store (the time is written in the background) and never fails for it."""
        try:
            state = await self._backend.get(owner, workspace_id)
        except ManagerError:
            return
        if state.status not in RESERVING:
            return
        moment = time.time()
        rates = {workspace_id: rates_of(state, self._monitor, moment)}
        task = asyncio.create_task(anyio.to_thread.run_sync(self._count, rates, moment))
        self._writing.add(task)
        task.add_done_callback(self._written)

    async def settle(self) -> None:
        """Until the counts started by changes are written (before the store closes)."""
        await asyncio.gather(*self._writing, return_exceptions=True)

    def _written(self, task: asyncio.Task[int]) -> None:
        self._writing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a workspace's usage was not counted at its change: %s", task.exception())

    def _count(self, rates: dict[str, Rates], now: float) -> int:
        if not rates:
            return 0
        marks = usage_marks.c
        ids = sorted(rates)  # (row locks always taken in one order: no deadlock)
        with self._store.writing() as connection:
            insert = _insert_for(connection)
            # A workspace counted for the first time: from its start, at most an interval
            # back (time before the manager counted at all is not made up); a stopped one from
            # now (its disk before is not known).
            first = [
                {
                    "workspace_id": i,
                    "counted_until": max(rates[i].since, now - self._interval)
                    if rates[i].running
                    else now,
                }
                for i in ids
            ]
            connection.execute(
                insert(usage_marks).on_conflict_do_nothing(index_elements=["workspace_id"]), first
            )
            counted: dict[str, float] = {}
            for chunk in chunks(ids):
                found = connection.execute(
                    sa.select(marks.workspace_id, marks.counted_until)
                    .where(marks.workspace_id.in_(chunk))
                    .order_by(marks.workspace_id)
                    .with_for_update()
                )
                counted.update({workspace_id: until for workspace_id, until in found})
            rows = []
            for workspace_id in ids:
                rate = rates[workspace_id]
                # (A count after a long time without one adds at most LONGEST_SPAN.)
                start = max(counted[workspace_id], rate.since, now - LONGEST_SPAN)
                for day, seconds in split_by_day(start, now):
                    rows.append(
                        {
                            "day": day,
                            "owner": rate.owner,
                            "workspace_id": workspace_id,
                            "display_name": rate.display_name,
                            "running_seconds": rate.running * seconds,
                            "cpu_seconds_reserved": rate.cpus * seconds,
                            "memory_mb_seconds_reserved": rate.memory_mb * seconds,
                            "cpu_seconds_used": rate.cpu_used * seconds,
                            "gpu_seconds": rate.gpus * seconds,
                            "disk_mb_seconds": rate.disk_mb * seconds,
                        }
                    )
            if rows:
                add = insert(usage_days)
                add = add.on_conflict_do_update(
                    index_elements=["day", "owner", "workspace_id"],
                    set_={
                        "display_name": add.excluded.display_name,
                        **{name: usage_days.c[name] + add.excluded[name] for name in AMOUNTS},
                    },
                )
                connection.execute(add, rows)  # (many rows: sent in batches by SQLAlchemy)
            for chunk in chunks(ids):
                connection.execute(
                    usage_marks.update()
                    .where(marks.workspace_id.in_(chunk), marks.counted_until < now)
                    .values(counted_until=now)
                )
            if len(rates) > 1:  # (a periodic count: the marks of long-gone workspaces go)
                connection.execute(
                    usage_marks.delete().where(marks.counted_until < now - FORGET_MARKS_SECONDS)
                )
        return len(ids)

    def report(
        self, since: date, until: date, group: Grouping, owner: str | None = None
    ) -> UsageReport:
        """Totals for the days `since` to `until` (inclusive), by `group`."""
        c = usage_days.c
        keys: list[sa.Column[Any]] = {
            "day": [c.day],
            "user": [c.owner],
            "workspace": [c.owner, c.workspace_id],
        }[group]
        sums = [sa.func.sum(c[name]).label(name) for name in AMOUNTS]
        conditions = [c.day >= since, c.day <= until]
        if owner is not None:
            conditions.append(c.owner == owner)
        named = [sa.func.max(c.display_name).label("display_name")] if group == "workspace" else []
        with self._store.reading() as connection:
            found = connection.execute(
                sa.select(*keys, *named, *sums).where(*conditions).group_by(*keys).order_by(*keys)
            ).mappings()
            rows = [_row(dict(row)) for row in found]
        total = UsageRow(**{name: sum(getattr(r, name) for r in rows) for name in REPORTED})
        return UsageReport(since=since, until=until, group=group, rows=rows, total=total)

    def csv_lines(self, since: date, until: date, owner: str | None) -> Iterator[str]:
        """Every day of every workspace in the period, in hours and GB, read a batch at a time
        (no read stays open while the client downloads)."""
        c = usage_days.c
        conditions = [c.day >= since, c.day <= until]
        if owner is not None:
            conditions.append(c.owner == owner)
        key = (c.day, c.owner, c.workspace_id)
        yield csv_line(["day", "owner", "workspace_id", "display_name", *REPORTED])
        after: tuple[object, ...] | None = None
        while True:
            where = conditions if after is None else [*conditions, sa.tuple_(*key) > after]
            with self._store.reading() as connection:
                batch = list(
                    connection.execute(
                        sa.select(usage_days).where(*where).order_by(*key).limit(CSV_BATCH)
                    ).mappings()
                )
            for row in batch:
                reported = _row(dict(row))
                yield csv_line(
                    [
                        row["day"],
                        row["owner"],
                        row["workspace_id"],
                        row["display_name"],
                        *(f"{getattr(reported, name):.4f}" for name in REPORTED),
                    ]
                )
            if len(batch) < CSV_BATCH:
                return
            last = batch[-1]
            after = (last["day"], last["owner"], last["workspace_id"])


def _row(row: dict[str, object]) -> UsageRow:
    seconds = {name: float(cast(float, row.get(name) or 0.0)) for name in AMOUNTS}
    return UsageRow(
        day=row.get("day"),
        owner=row.get("owner"),
        workspace_id=row.get("workspace_id"),
        display_name=row.get("display_name"),
        running_hours=seconds["running_seconds"] / HOUR,
        cpu_hours_reserved=seconds["cpu_seconds_reserved"] / HOUR,
        memory_gb_hours_reserved=seconds["memory_mb_seconds_reserved"] / 1024 / HOUR,
        cpu_hours_used=seconds["cpu_seconds_used"] / HOUR,
        gpu_hours=seconds["gpu_seconds"] / HOUR,
        disk_gb_days=seconds["disk_mb_seconds"] / 1024 / DAY,
    )


def _insert_for(connection: sa.Connection) -> Callable[[sa.Table], Any]:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL both do)."""
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


def default_period(today: date | None = None) -> tuple[date, date]:
    """The last 30 days, today included."""
    last = today or datetime.now(UTC).date()
    return last - timedelta(days=29), last
