"""Schedules: workspaces that start and stop by themselves at given times.

A workspace's schedule is one of its settings (kept with them, on the engine): on its days, at
its start time in its time zone it is started if it is not running, at its stop time it is
stopped if it runs ("quiet hours"); idle stop applies as well. An administrator's
SCHEDULE_STOP_LATEST stops every running workspace each day at that time (in the workspace's
schedule's time zone, else SCHEDULE_TIMEZONE), and no schedule may stop later.

Every SCHEDULE_CHECK_INTERVAL each manager looks at every workspace. Each moment of a schedule
that passed within the last CATCH_UP is acted on once, by whichever manager claims it first
(`SharedState.use_once`, which outlives the window): a manager that was down for a minute still
does what was due, one down for longer does not start workspaces hours late, and two managers
never act twice. A moment is claimed whatever the workspace's state then, so a user who stops
a workspace right after its scheduled start does not see it started again.

Starts are made as the owner (their quotas apply). One that fails says so: an event ("failed",
on the workspace's and its owner's streams) and the workspace's status message, until it is
started again. A user may postpone a scheduled stop by an hour at a time (`postpone`), never
past the administrator's latest stop.

What a manager notes about schedules (a postponed stop, a failed start) is a shared-state
document; each manager reads it at every check, and keeps what it read for showing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio.to_thread

from ..backends import WorkspaceBackend, WorkspaceState
from ..errors import Conflict, ManagerError
from ..events import EventBus, WorkspaceEvent
from ..models import WEEKDAYS, Weekday, WorkspaceSpec, WorkspaceStatus
from ..settings import Settings
from ..shared import USED_SECONDS, SharedState
from . import Stop

log = logging.getLogger(__name__)

CATCH_UP = timedelta(minutes=5)  # (must stay shorter than USED_SECONDS)
POSTPONE = timedelta(hours=1)
HORIZON = timedelta(days=8)  # every weekly moment falls within it
ACTING_AT_ONCE = 8  # workspaces started or stopped side by side
RUNS = (WorkspaceStatus.RUNNING, WorkspaceStatus.PENDING)
assert CATCH_UP.total_seconds() < USED_SECONDS

Clock = Callable[[], datetime]
Start = Callable[[str, str], Awaitable[object]]  # (owner, workspace id), as the owner


def now_utc() -> datetime:
    return datetime.now(UTC)


def times_between(
    zone: ZoneInfo, days: list[Weekday], clock_time: str, after: datetime, until: datetime
) -> list[datetime]:
    """Each `clock_time` (HH:MM in `zone`) on `days` in (after, until], in UTC. On a day the
    clocks go forward past it, the moment is as far after midnight as the time says."""
    hour, minute = (int(part) for part in clock_time.split(":"))
    day = after.astimezone(zone).date() - timedelta(days=1)
    found: list[datetime] = []
    while True:
        moment = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
        if moment > until:
            return found
        if moment > after and WEEKDAYS[day.weekday()] in days:
            found.append(moment)
        day += timedelta(days=1)


@dataclass(frozen=True)
class Moment:
    at: datetime
    action: Literal["start", "stop"]
    key: str  # which moment it is: claimed once, by one manager
    reason: str = ""  # for a stop: completes "Stopped ..."
    postponable: bool = False


@dataclass(frozen=True)
class Plan:
    """What the schedule will do next, for showing on the workspace."""

    starts_at: datetime | None
    stop: Moment | None
    problem: str | None


class Schedules:
    def __init__(
        self,
        settings: Settings,
        shared: SharedState,
        events: EventBus,
        clock: Clock = now_utc,
    ) -> None:
        self._settings = settings
        self._shared = shared
        self._events = events
        self._document = shared.document("schedules")
        self._lock = threading.Lock()
        self._notes: dict[str, dict[str, Any]] = {}
        self.clock = clock

    # --- what is planned ---------------------------------------------------------------------
    def moments(
        self, workspace_id: str, spec: WorkspaceSpec, after: datetime, until: datetime
    ) -> list[Moment]:
        """The schedule's moments in (after, until], a postponed stop moved where it went."""
        schedule, latest = spec.schedule, self._settings.schedule_stop_latest
        found: list[Moment] = []
        zone = self._zone(spec)
        if schedule and schedule.start:
            for at in times_between(zone, schedule.days, schedule.start, after, until):
                found.append(Moment(at, "start", f"start@{at.isoformat()}"))
        if schedule and schedule.stop:
            reason = f"on its schedule at {schedule.stop} ({zone.key})"
            for at in times_between(zone, schedule.days, schedule.stop, after, until):
                found.append(Moment(at, "stop", f"stop@{at.isoformat()}", reason, True))
        if latest:
            # In the administrator's time zone, whatever the user's: a user cannot move it.
            site = ZoneInfo(self._settings.schedule_timezone)
            reason = f"at {latest} ({site.key}), the latest time workspaces run here"
            for at in times_between(site, WEEKDAYS, latest, after, until):
                found.append(Moment(at, "stop", f"latest@{at.isoformat()}", reason))
        note = self._notes.get(workspace_id, {})
        if postponed := note.get("postponed"):
            found = [m for m in found if m.key != postponed]
            to = datetime.fromisoformat(note["until"])
            if after < to <= until:
                reason = f"on its schedule, postponed to {_local(to, self._zone(spec))}"
                found.append(Moment(to, "stop", f"postponed@{to.isoformat()}", reason, True))
        return sorted(found, key=lambda m: m.at)

    def _zone(self, spec: WorkspaceSpec) -> ZoneInfo:
        """The schedule's time zone; SCHEDULE_TIMEZONE if it has none, or one this tz
        database no longer knows (checked when given, never when read back)."""
        if spec.schedule:
            try:
                return ZoneInfo(spec.schedule.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                log.warning("unknown time zone %r: using SCHEDULE_TIMEZONE", spec.schedule.timezone)
        return ZoneInfo(self._settings.schedule_timezone)

    def plan(self, state: WorkspaceState) -> Plan:
        now = self.clock()
        upcoming = self.moments(state.id, state.spec, now, now + HORIZON)
        runs = state.status in RUNS
        starts = [m.at for m in upcoming if m.action == "start"]
        stops = [m for m in upcoming if m.action == "stop"]
        return Plan(
            starts_at=None if runs or not starts else starts[0],
            stop=stops[0] if runs and stops else None,
            problem=None if runs else self._notes.get(state.id, {}).get("problem"),
        )

    # --- acting ----------------------------------------------------------------------------
    async def check_once(self, backend: WorkspaceBackend, start: Start, stop: Stop) -> list[str]:
        """Do what is due; "<action> <workspace id>" for each thing done."""
        await anyio.to_thread.run_sync(self._read)
        now = self.clock()
        states = await backend.list_workspaces(None)
        due: list[tuple[WorkspaceState, list[Moment]]] = []
        for state in states:
            claimed = []
            for moment in self.moments(state.id, state.spec, now - CATCH_UP, now):
                if await anyio.to_thread.run_sync(
                    self._shared.use_once, f"schedule|{state.id}|{moment.key}"
                ):
                    claimed.append(moment)  # (else done already, here or by another manager)
            if claimed:
                due.append((state, claimed))
        # Workspaces side by side (a stop may take seconds), each one's moments in order.
        limit = asyncio.Semaphore(ACTING_AT_ONCE)

        async def act_on(state: WorkspaceState, moments: list[Moment]) -> list[str]:
            async with limit:
                runs, done = state.status in RUNS, []
                for moment in moments:
                    if await self._act(state, runs, moment, start, stop):
                        runs = moment.action == "start"
                        done.append(f"{moment.action} {state.id}")
                return done

        results = await asyncio.gather(*(act_on(s, m) for s, m in due))
        await self._tidy(now, {state.id for state in states})
        return [entry for done in results for entry in done]

    async def _act(
        self, state: WorkspaceState, runs: bool, moment: Moment, start: Start, stop: Stop
    ) -> bool:
        """Do `moment` to the workspace (running or not as `runs` says); whether it did.
        What goes wrong is told and logged, never raised: the other workspaces go on."""
        try:
            if moment.action == "start" and not runs:
                await start(state.owner, state.id)
                await self.clear_problem(state.id)
                return True
            if moment.action == "stop" and runs:
                await stop(state.owner, state.id, moment.reason)
                return True
        except Exception as exc:
            message = exc.message if isinstance(exc, ManagerError) else "an unexpected error"
            log.warning(
                "workspace %s: the scheduled %s failed", state.id, moment.action, exc_info=exc
            )
            if moment.action == "start":
                when = _local(moment.at, self._zone(state.spec))
                await self._note(
                    state.id, {"problem": f"Its scheduled start at {when} failed: {message}"}
                )
                # (Its stream is a grantee's too: the reason, which may name the owner's other
                # workspaces, is in the status message its owner reads.)
                self._events.publish(
                    WorkspaceEvent(
                        workspace_id=state.id,
                        owner=state.owner,
                        phase="failed",
                        message=f"Its scheduled start at {when} failed: its status says why.",
                    )
                )
        return False

    async def postpone(self, state: WorkspaceState) -> None:
        """Move the next scheduled stop an hour later (again: another hour)."""
        await anyio.to_thread.run_sync(self._read)
        if state.status not in RUNS:
            raise Conflict("Only a running workspace's stop can be postponed; start it.")
        now = self.clock()
        upcoming = self.moments(state.id, state.spec, now, now + HORIZON)
        stops = [m for m in upcoming if m.action == "stop"]
        if not stops:
            raise Conflict("This workspace has no scheduled stop to postpone.")
        stop = stops[0]
        if not stop.postponable:
            raise Conflict(f"It stops {stop.reason}: that cannot be postponed.")
        to = stop.at + POSTPONE
        later = [m for m in stops[1:] if m.key.startswith("latest@")]
        if later and to >= later[0].at:
            latest = _local(later[0].at, self._zone(state.spec))
            raise Conflict(
                f"It would be stopped at {latest} anyway, the latest time workspaces run here: "
                "it cannot be postponed further."
            )
        note = self._notes.get(state.id, {})
        original = note["postponed"] if stop.key.startswith("postponed@") else stop.key
        await self._note(state.id, {"postponed": original, "until": to.isoformat()})

    async def clear_problem(self, workspace_id: str) -> None:
        if "problem" in self._notes.get(workspace_id, {}):
            await self._note(workspace_id, {"problem": None})

    async def forget(self, workspace_id: str) -> None:
        if workspace_id in self._notes:
            await self._note(workspace_id, None)

    # --- the shared notes ----------------------------------------------------------------------
    def _read(self) -> None:
        with self._lock:
            self._document.reload()
            self._notes = dict(self._document.data)

    async def _note(self, workspace_id: str, change: dict[str, Any] | None) -> None:
        """Merge `change` into the workspace's note (None values drop keys; None: all)."""

        def write() -> None:
            with self._lock, self._document.changing() as data:
                note = {} if change is None else {**data.get(workspace_id, {}), **change}
                note = {key: value for key, value in note.items() if value is not None}
                if note:
                    data[workspace_id] = note
                else:
                    data.pop(workspace_id, None)
                self._notes = dict(data)

        await anyio.to_thread.run_sync(write)

    async def _tidy(self, now: datetime, present: set[str]) -> None:
        """Notes of workspaces that are gone, and postponements whose time passed long enough
        ago to have been acted on."""
        for workspace_id, note in list(self._notes.items()):
            until = note.get("until")
            if workspace_id not in present:
                await self._note(workspace_id, None)
            elif until and datetime.fromisoformat(until) < now - CATCH_UP:
                await self._note(workspace_id, {"postponed": None, "until": None})


def _local(moment: datetime, zone: ZoneInfo) -> str:
    """HH:MM in `zone`."""
    return f"{moment.astimezone(zone):%H:%M} ({zone.key})"
