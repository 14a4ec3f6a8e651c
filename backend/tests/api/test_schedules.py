"""Schedules at the API, on the in-memory backend with an injected clock (no waits): what a
workspace shows, starts and stops when due, once with two managers and after a restart, a
start that breaks a quota says so, postponing, the administrator's latest stop, and bad
schedules refused. A real engine's workspace started and stopped by its schedule:
tests/docker/test_schedule.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lab_workspace_manager.app import create_app
from lab_workspace_manager.backends import WorkspaceState
from lab_workspace_manager.backends.memory import InMemoryBackend
from lab_workspace_manager.runtime import Runtime
from tests.support.apiclient import Api, running
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio

# A Monday, 07:59:30 in Berlin (CET, UTC+1).
MONDAY = datetime(2026, 12, 7, 6, 59, 30, tzinfo=UTC)
WORKDAYS = {"timezone": "Europe/Berlin", "days": ["mon", "tue", "wed", "thu", "fri"]}
OFFICE_HOURS = {**WORKDAYS, "start": "08:00", "stop": "20:00"}


class CountingBackend(InMemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.starts: list[str] = []

    async def start(self, owner: str, workspace_id: str) -> WorkspaceState:
        self.starts.append(workspace_id)
        return await super().start(owner, workspace_id)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@asynccontextmanager
async def manager(
    data_dir: Path, clock: Clock, backend: InMemoryBackend | None = None, **settings: Any
) -> AsyncIterator[tuple[Api, Runtime]]:
    """A manager on `data_dir` (its shared state) with the schedules' clock at `clock`."""
    values = make_settings(data_dir=data_dir, **settings)
    made = create_app(values, backend or InMemoryBackend())
    # Before it opens: its periodic check (at once, then every 30 s) sees the same clock.
    made.state.runtime.schedules.clock = clock
    async with running(made) as app:
        runtime: Runtime = app.state.runtime
        api = Api(app, runtime.backend, values, user="sam")
        try:
            yield api, runtime
        finally:
            await api.aclose()


async def test_a_schedule_starts_and_stops_the_workspace_and_says_when(tmp_path: Path) -> None:
    clock = Clock(MONDAY)
    async with manager(tmp_path, clock) as (api, runtime):
        made = await api.create(display_name="office", is_stopped=True, schedule=OFFICE_HOURS)
        assert made["schedule"] == {**OFFICE_HOURS, "days": WORKDAYS["days"]}
        assert made["starts_at"] == "2026-12-07T07:00:00Z"  # 08:00 in Berlin
        assert made["stops_at"] is None

        clock.advance(minutes=1)
        await runtime.check_schedules()
        started = (await api.get(made["id"])).json()
        assert started["status"] == "running"
        assert started["starts_at"] is None
        assert started["stops_at"] == "2026-12-07T19:00:00Z"
        assert started["stop_reason"] == "on its schedule at 20:00 (Europe/Berlin)"
        assert started["stop_postponable"] is True

        clock.advance(hours=12)
        await runtime.check_schedules()
        stopped = (await api.get(made["id"])).json()
        assert stopped["status"] == "stopped"
        assert "on its schedule at 20:00" in stopped["status_message"]
        assert stopped["starts_at"] == "2026-12-08T07:00:00Z"  # Tuesday 08:00


async def test_each_moment_is_acted_on_once_whatever_happens_after(tmp_path: Path) -> None:
    """Two managers sharing a DATA_DIR (and a restart): the start at 08:00 happens once, and
    a user who stops the workspace at 08:01 does not see it started again."""
    clock, backend = Clock(MONDAY + timedelta(minutes=1)), CountingBackend()
    async with manager(tmp_path, clock, backend) as (api, first):
        made = await api.create(display_name="office", is_stopped=True, schedule=OFFICE_HOURS)
        async with manager(tmp_path, clock, backend) as (_, second):  # (it checks at once)
            for runtime in (first, second, first, second):
                await runtime.check_schedules()
        assert backend.starts == [made["id"]]
        stopped = await api.client.post(api.path(made["id"]) + ":stop")
        assert stopped.json()["status"] == "stopped"
        clock.advance(minutes=1)
        await first.check_schedules()
    # A restarted manager: the moment was claimed already.
    async with manager(tmp_path, clock, backend) as (api, restarted):
        await restarted.check_schedules()
        assert (await api.get(made["id"])).json()["status"] == "stopped"
    assert backend.starts == [made["id"]]


async def test_a_manager_down_at_the_moment_catches_up_for_minutes_not_hours(
    tmp_path: Path,
) -> None:
    clock, backend = Clock(MONDAY), InMemoryBackend()
    async with manager(tmp_path, clock, backend) as (api, runtime):
        late = await api.create(display_name="late", is_stopped=True, schedule=OFFICE_HOURS)
        clock.advance(minutes=4)  # 08:03:30: within five minutes, so it starts now
        await runtime.check_schedules()
        assert (await api.get(late["id"])).json()["status"] == "running"
    clock = Clock(MONDAY + timedelta(hours=2))
    async with manager(tmp_path / "other", clock) as (api, runtime):
        missed = await api.create(display_name="missed", is_stopped=True, schedule=OFFICE_HOURS)
        await runtime.check_schedules()  # 10:00: the 08:00 start is not made two hours late
        assert (await api.get(missed["id"])).json()["status"] == "stopped"


async def test_a_scheduled_start_that_breaks_a_quota_says_so(tmp_path: Path) -> None:
    clock = Clock(MONDAY)
    async with manager(tmp_path, clock, quota_running=1) as (api, runtime):
        await api.create(display_name="busy")  # the one running workspace allowed
        made = await api.create(display_name="office", is_stopped=True, schedule=OFFICE_HOURS)
        events = api.client.stream(
            "GET", f"/users/sam/workspace/{made['id']}/events", params={"timeout": "5"}
        )
        clock.advance(minutes=1)
        await runtime.check_schedules()
        failed = (await api.get(made["id"])).json()
        assert failed["status"] == "stopped"
        assert "Its scheduled start at 08:00 (Europe/Berlin) failed" in failed["status_message"]
        assert "at most 1" in failed["status_message"]
        async with events as stream:
            text = ""
            async for chunk in stream.aiter_text():
                text += chunk
                if "failed" in text:
                    break
        assert '"phase":"failed"' in text.replace(" ", "")
        assert "scheduled start" in text
        # Started by hand once there is room: the note goes.
        busy = (await api.client.get(api.path())).json()[0]
        await api.client.post(api.path(busy["id"]) + ":stop")
        started = await api.client.post(api.path(made["id"]) + ":start")
        assert "failed" not in started.json()["status_message"]


async def test_postponing_moves_the_stop_an_hour_but_not_past_the_latest(tmp_path: Path) -> None:
    clock = Clock(MONDAY + timedelta(hours=12))  # 19:59:30 in Berlin
    async with manager(
        tmp_path, clock, schedule_stop_latest="22:00", schedule_timezone="Europe/Berlin"
    ) as (api, runtime):
        made = await api.create(display_name="late-work", schedule=OFFICE_HOURS)
        path = api.path(made["id"])
        assert made["stops_at"] == "2026-12-07T19:00:00Z"
        once = (await api.client.post(path + ":postpone")).json()
        assert once["stops_at"] == "2026-12-07T20:00:00Z"
        assert once["stop_reason"] == "on its schedule, postponed to 21:00 (Europe/Berlin)"
        clock.advance(minutes=1)
        await runtime.check_schedules()  # 20:00 passed: postponed, so still running
        assert (await api.get(made["id"])).json()["status"] == "running"
        refused = await api.client.post(path + ":postpone")  # 22:00 would come first
        assert refused.status_code == 409
        assert "the latest time workspaces run here" in refused.json()["detail"]
        clock.advance(hours=1)
        await runtime.check_schedules()  # 21:00:30
        stopped = (await api.get(made["id"])).json()
        assert stopped["status"] == "stopped"
        assert "postponed to 21:00" in stopped["status_message"]


async def test_the_administrators_latest_stop_holds_for_every_workspace(tmp_path: Path) -> None:
    clock = Clock(datetime(2026, 12, 7, 21, 59, 30, tzinfo=UTC))
    async with manager(tmp_path, clock, schedule_stop_latest="22:00") as (api, runtime):
        plain = await api.create(display_name="no-schedule")  # SCHEDULE_TIMEZONE: UTC
        assert plain["stops_at"] == "2026-12-07T22:00:00Z"
        assert plain["stop_postponable"] is False
        refused = await api.client.post(api.path(plain["id"]) + ":postpone")
        assert refused.status_code == 409
        utc_hours = {**OFFICE_HOURS, "timezone": "UTC"}
        too_late = await api.create(
            expect=422, display_name="night", schedule={**utc_hours, "stop": "23:00"}
        )
        assert "by 22:00 (UTC) at the latest" in too_late["detail"]
        starts_late = await api.create(
            expect=422, display_name="night", schedule={**utc_hours, "start": "22:30"}
        )
        assert "choose an earlier start" in starts_late["detail"]
        # A schedule in another time zone does not move the latest stop.
        elsewhere = await api.create(
            display_name="elsewhere",
            schedule={"timezone": "Pacific/Kiritimati", "days": ["mon"], "stop": "23:59"},
        )
        assert elsewhere["stops_at"] == "2026-12-07T22:00:00Z"
        assert elsewhere["stop_postponable"] is False
        clock.advance(minutes=1)
        await runtime.check_schedules()
        stopped = (await api.get(plain["id"])).json()
        assert stopped["status"] == "stopped"
        assert "the latest time workspaces run here" in stopped["status_message"]


async def test_the_default_schedule_and_changing_or_removing_one(tmp_path: Path) -> None:
    clock = Clock(MONDAY)
    default = {**WORKDAYS, "start": "09:00"}
    async with manager(
        tmp_path,
        clock,
        schedule_default=default,  # (as SCHEDULE_DEFAULT's JSON gives it)
    ) as (api, _):
        made = await api.create(display_name="defaulted", is_stopped=True)
        assert made["schedule"]["start"] == "09:00"
        assert (await api.create(display_name="none", schedule=None))["schedule"] is None
        path = api.path(made["id"])
        changed = await api.client.patch(path, json={"schedule": {**WORKDAYS, "stop": "18:00"}})
        assert changed.json()["schedule"]["stop"] == "18:00"
        assert changed.json()["starts_at"] is None
        kept = await api.client.patch(path, json={"idle_timeout": 0})
        assert kept.json()["schedule"]["stop"] == "18:00"  # left out: unchanged
        removed = await api.client.patch(path, json={"schedule": None})
        assert removed.json()["schedule"] is None


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ({"timezone": "Mars/Olympus", "start": "08:00"}, "is not a time zone"),
        ({"timezone": "../../etc/passwd", "start": "08:00"}, "is not a time zone"),
        ({"start": "24:00"}, "should match pattern"),
        ({"start": "8:00"}, "should match pattern"),
        ({"days": [], "start": "08:00"}, "at least 1 item"),
        ({"days": ["someday"], "start": "08:00"}, "'mon', 'tue'"),
        ({"days": ["mon"]}, "needs a start time, a stop time or both"),
        ({"start": "08:00", "stop": "08:00"}, "cannot start and stop at the same time"),
        ({"start": "08:00", "every": "day"}, "Extra inputs are not permitted"),
    ],
)
async def test_bad_schedules_are_refused_with_a_reason(
    tmp_path: Path, schedule: dict[str, Any], says: str
) -> None:
    async with manager(tmp_path, Clock(MONDAY)) as (api, _):
        refused = await api.create(expect=422, display_name="bad", schedule=schedule)
        assert says in refused["detail"], refused["detail"]


class BrokenStartBackend(InMemoryBackend):
    """Starting one particular workspace fails unexpectedly (not a ManagerError)."""

    broken = ""

    async def start(self, owner: str, workspace_id: str) -> WorkspaceState:
        if workspace_id == self.broken:
            raise RuntimeError("something nobody expected")
        return await super().start(owner, workspace_id)


async def test_one_workspace_that_fails_oddly_holds_up_no_other(tmp_path: Path) -> None:
    clock, backend = Clock(MONDAY), BrokenStartBackend()
    async with manager(tmp_path, clock, backend) as (api, runtime):
        broken = await api.create(display_name="broken", is_stopped=True, schedule=OFFICE_HOURS)
        fine = await api.create(display_name="fine", is_stopped=True, schedule=OFFICE_HOURS)
        backend.broken = broken["id"]
        clock.advance(minutes=1)
        await runtime.check_schedules()
        assert (await api.get(fine["id"])).json()["status"] == "running"
        failed = (await api.get(broken["id"])).json()
        assert "failed: an unexpected error" in failed["status_message"]
        # Its note goes with it.
        await backend.delete("sam", broken["id"], True)  # (behind the manager's back)
        await runtime.check_schedules()
        assert broken["id"] not in runtime.schedules._notes
