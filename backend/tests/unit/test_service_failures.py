"""The service when its backend fails or is slow: what it held is let go, what it reserved
is undone, and the caller is told what happened (on fakes: milliseconds, no engine)."""

from __future__ import annotations

import asyncio

import pytest

from lab_workspace_manager.backends import WorkspaceState
from lab_workspace_manager.backends.memory import InMemoryBackend
from lab_workspace_manager.models import WorkspaceSpec
from tests.support.apiclient import open_api
from tests.support.fakes import ENGINE_GONE, FailingBackend, SlowBackend
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio


async def test_a_failed_create_is_a_503_and_leaves_its_name_and_quota_free() -> None:
    backend = FailingBackend()
    async with open_api(make_settings(quota_workspaces=1), backend) as api:
        failed = await api.client.post(api.path(), json={"display_name": "first"})
        assert failed.status_code == 503
        assert failed.json()["detail"] == ENGINE_GONE
        backend.failing = False
        # Neither the name nor the quota (nor the owner's lock) is still held by it.
        made = await asyncio.wait_for(api.create(display_name="first"), 2)
        assert made["display_name"] == "first"


async def test_a_failed_start_lets_go_of_the_quota_lock() -> None:
    backend = FailingBackend()
    backend.failing = False
    async with open_api(make_settings(quota_running=1), backend) as api:
        workspace = await api.create(display_name="w", is_stopped=True)
        backend.failing = True
        failed = await api.client.post(api.path(workspace["id"]) + ":start")
        assert failed.status_code == 503
        backend.failing = False
        started = await asyncio.wait_for(api.client.post(api.path(workspace["id"]) + ":start"), 2)
        assert started.status_code == 200, started.text


class GatedBackend(SlowBackend):
    """`create` waits until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.gate = asyncio.Event(), asyncio.Event()

    async def create(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool
    ) -> WorkspaceState:
        self.entered.set()
        await self.gate.wait()
        return await InMemoryBackend.create(self, owner, workspace_id, spec, start)


async def test_a_name_being_created_is_taken_at_once_while_a_slow_create_runs() -> None:
    backend = GatedBackend()
    async with open_api(make_settings(), backend) as api:
        slow = asyncio.create_task(api.client.post(api.path(), json={"display_name": "Same"}))
        await backend.entered.wait()  # the first holds the name now
        second = await api.client.post(api.path(), json={"display_name": "same"})
        assert second.status_code == 409
        assert not slow.done(), "refused at once, not after the first"
        backend.gate.set()
        assert (await slow).status_code == 201
        # Done: the name stays taken by the workspace itself, and another one is free.
        assert (await api.client.post(api.path(), json={"display_name": "SAME"})).status_code == 409
        await api.create(display_name="other")


async def test_with_quotas_a_second_create_waits_for_the_first_and_is_counted_against_it() -> None:
    async with open_api(make_settings(quota_workspaces=1), SlowBackend()) as api:
        made = await asyncio.gather(
            api.client.post(api.path(), json={"display_name": "a"}),
            api.client.post(api.path(), json={"display_name": "b"}),
        )
        assert sorted(r.status_code for r in made) == [201, 409]
        refused = next(r for r in made if r.status_code == 409)
        assert "at most 1 workspaces" in refused.json()["detail"]
