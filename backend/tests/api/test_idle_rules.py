"""When a workspace will be stopped, and postponing it (in-memory backend)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from lab_workspace_manager.backends import WorkspaceState
from lab_workspace_manager.backends.memory import InMemoryBackend
from lab_workspace_manager.models import ComputeSpec, WorkspaceSpec
from lab_workspace_manager.policies.idle import duration
from tests.support.apiclient import open_api
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_stops_at_follows_the_idle_timeout_and_extend_postpones_it() -> None:
    async with open_api(make_settings(), InMemoryBackend()) as api:
        workspace = await api.create(display_name="w", idle_timeout=600)
        assert workspace["stop_reason"] == "after 10 min without activity"
        first = at(workspace["stops_at"])
        await asyncio.sleep(0.05)
        extended = await api.action(workspace["id"], "extend")
        assert at(extended["stops_at"]) > first
        never = await api.create(display_name="never", idle_timeout=0)
        assert never["stops_at"] is None
        refused = await api.client.post(api.path(never["id"]) + ":extend")
        assert refused.status_code == 409
        await api.action(workspace["id"], "stop")
        stopped = await api.client.post(api.path(workspace["id"]) + ":extend")
        assert stopped.status_code == 409
        assert (await api.get(workspace["id"])).json()["stops_at"] is None


async def test_the_maximum_lifetime_comes_first_when_sooner() -> None:
    settings = make_settings(max_lifetime=3600)
    async with open_api(settings, InMemoryBackend()) as api:
        workspace = await api.create(display_name="w", idle_timeout=7200)
        assert workspace["stop_reason"] == "after reaching the maximum running time of 1 h"
        assert at(workspace["stops_at"]) - at(workspace["created_at"]) < timedelta(seconds=3601)


async def test_the_watcher_stops_what_is_due_and_says_why() -> None:
    backend = InMemoryBackend()
    settings = make_settings()
    async with open_api(settings, backend) as api:
        idle = await api.create(display_name="idle", idle_timeout=1)
        busy = await api.create(display_name="busy", idle_timeout=1)
        forever = await api.create(display_name="forever")
        runtime = api.app.state.runtime
        watcher, activity = runtime.idle, runtime.activity
        await asyncio.sleep(1.1)
        activity.touch(busy["id"])
        assert await watcher.check_once() == [idle["id"]]
        stopped = (await api.get(idle["id"])).json()
        assert stopped["status"] == "stopped"
        assert stopped["status_message"] == "Stopped after 1 s without activity."
        assert (await api.get(busy["id"])).json()["status"] == "running"
        assert (await api.get(forever["id"])).json()["status"] == "running"


class FailingStop(InMemoryBackend):
    """One workspace whose stop fails (an engine error, a workspace in a bad state)."""

    broken = ""

    async def stop(self, owner: str, workspace_id: str, reason: str = "") -> WorkspaceState:
        if workspace_id == self.broken:
            raise RuntimeError("the engine said no")
        return await super().stop(owner, workspace_id, reason)


async def test_one_workspace_that_cannot_be_stopped_holds_up_no_other() -> None:
    """Regression: an error for one workspace ended the whole cycle, so idle stop and the
    maximum lifetime never applied to the workspaces after it."""
    backend = FailingStop()
    settings = make_settings()
    async with open_api(settings, backend) as api:
        first = await api.create(display_name="first", idle_timeout=1)
        second = await api.create(display_name="second", idle_timeout=1)
        backend.broken = first["id"]
        watcher = api.app.state.runtime.idle
        await asyncio.sleep(1.1)
        assert await watcher.check_once() == [second["id"]]
        assert (await api.get(second["id"])).json()["status"] == "stopped"


async def test_an_automatic_stop_says_when_it_emptied_workspace() -> None:
    """Regression (issue 13): an automatic stop of a clear-on-stop workspace said nothing of
    the data it emptied (the disk limit's even said "nothing was deleted")."""
    backend = InMemoryBackend()
    settings = make_settings()
    async with open_api(settings, backend) as api:
        cleared = await api.create(display_name="c", idle_timeout=1, clear_volume_on_stop=True)
        kept = await api.create(display_name="k", idle_timeout=1)
        watcher = api.app.state.runtime.idle
        await asyncio.sleep(1.1)
        assert sorted(await watcher.check_once()) == sorted([cleared["id"], kept["id"]])
        message = (await api.get(cleared["id"])).json()["status_message"]
        assert message == (
            "Stopped after 1 s without activity; /workspace was emptied on stopping, as its "
            "clear-on-stop setting asks."
        )
        assert "emptied" not in (await api.get(kept["id"])).json()["status_message"]


async def test_the_administrators_clear_on_stop_shows_on_existing_workspaces() -> None:
    """Regression (issue 13): WORKSPACE_ALWAYS_CLEAR_VOLUME_ON_STOP applied to workspaces made
    before it was set while the API still said clear_volume_on_stop: false."""
    backend = InMemoryBackend()
    async with open_api(make_settings(always_clear_volume_on_stop=True), backend) as api:
        # Made before the administrator set it: its own choice is "keep".
        spec = WorkspaceSpec(
            display_name="before",
            container_image="x:1",
            compute=ComputeSpec(cpus=1, memory=100, volume_size=100),
            clear_volume_on_stop=False,
        )
        await backend.create(api.user, "before0001", spec, start=False)
        assert (await api.get("before0001")).json()["clear_volume_on_stop"] is True
        await backend.delete(api.user, "before0001", delete_volume=True)


def test_durations_read_naturally() -> None:
    assert [duration(s) for s in (45, 120, 3600, 5400)] == ["45 s", "2 min", "1 h", "90 min"]
