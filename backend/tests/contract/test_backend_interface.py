"""The backend contract (`backends/base.py`), checked on each backend directly, without the
HTTP API and the service in between: what every place workspaces can live promises."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass

import httpx
import pytest

from lab_workspace_manager.auth import Identity
from lab_workspace_manager.backends import WorkspaceBackend
from lab_workspace_manager.backends.base import BY_USER
from lab_workspace_manager.backends.docker.backend import DockerBackend
from lab_workspace_manager.backends.memory import InMemoryBackend
from lab_workspace_manager.backends.mllab import MLLabBackend
from lab_workspace_manager.errors import ManagerError, NotFound
from lab_workspace_manager.events import EventBus
from lab_workspace_manager.models import ComputeSpec, WorkspaceSpec, WorkspaceStatus
from lab_workspace_manager.naming import new_workspace_id
from tests.support.images import TEST_IMAGE
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio

SPEC = WorkspaceSpec(
    display_name="direct",
    container_image=TEST_IMAGE,
    compute=ComputeSpec(cpus=0.5, memory=256, volume_size=200),
)


@dataclass
class Opened:
    backend: WorkspaceBackend  # acting for `owner`
    owner: str
    other: WorkspaceBackend  # acting for `stranger`
    stranger: str


# (The Swarm backend keeps the contract through the API suite, `test_contract.py`, only: its
# workspaces are reached, and so found running, only from inside the swarm, where the manager's
# image runs; this process is outside.)
@pytest.fixture(params=["memory", "docker", "mllab"])
async def opened(request: pytest.FixtureRequest) -> AsyncIterator[Opened]:
    owner, stranger = "direct-" + secrets.token_hex(3), "direct-" + secrets.token_hex(3)
    async with httpx.AsyncClient(trust_env=False, timeout=60) as http:
        backend: WorkspaceBackend
        if request.param == "mllab":
            contaxy = request.getfixturevalue("contaxy")
            settings = make_settings(contaxy_api_endpoint=contaxy.endpoint)
            backend = MLLabBackend(settings, http)
            owner, owner_token = contaxy.sign_up(None, False)
            stranger, stranger_token = contaxy.sign_up(None, False)
        elif request.param == "docker":
            request.getfixturevalue("engine")
            backend = DockerBackend(make_settings(workspace_backend="docker"))
            owner_token = stranger_token = ""
        else:
            backend = InMemoryBackend()
            owner_token = stranger_token = ""
        bus = EventBus()
        bus.bind(asyncio.get_running_loop())
        backend.attach_events(bus)
        await backend.open()
        mine = backend.for_caller(Identity(owner, False, token=owner_token))
        theirs = backend.for_caller(Identity(stranger, False, token=stranger_token))
        made: list[str] = []
        opened = Opened(mine, owner, theirs, stranger)
        opened.made = made  # type: ignore[attr-defined]
        try:
            yield opened
        finally:
            for workspace_id in made:
                with suppress(ManagerError):
                    await mine.delete(owner, workspace_id, delete_volume=True)
            await backend.close()


async def create(opened: Opened, start: bool = True) -> str:
    workspace_id = new_workspace_id()
    opened.made.append(workspace_id)  # type: ignore[attr-defined]
    state = await opened.backend.create(opened.owner, workspace_id, SPEC, start)
    assert state.id == workspace_id and state.owner == opened.owner
    assert state.spec == SPEC
    return workspace_id


async def test_a_created_workspace_is_got_and_listed_by_its_owner_only(opened: Opened) -> None:
    workspace_id = await create(opened, start=False)
    state = await opened.backend.get(opened.owner, workspace_id)
    assert state.is_stopped and state.status is WorkspaceStatus.STOPPED
    assert [s.id for s in await opened.backend.list_workspaces(opened.owner)] == [workspace_id]
    # Another owner's id reads exactly like a missing one.
    with pytest.raises(NotFound):
        await opened.other.get(opened.stranger, workspace_id)
    assert await opened.other.list_workspaces(opened.stranger) == []


async def test_start_and_stop_are_idempotent_and_settle(opened: Opened) -> None:
    workspace_id = await create(opened, start=False)
    backend, owner = opened.backend, opened.owner
    for _ in range(2):
        await backend.start(owner, workspace_id)
    running = await backend.wait_settled(owner, workspace_id, timeout=120)
    assert running.status is WorkspaceStatus.RUNNING, running.status_message
    assert running.access_url
    for _ in range(2):
        stopped = await backend.stop(owner, workspace_id, BY_USER)
    assert stopped.is_stopped
    settled = await backend.wait_settled(owner, workspace_id, timeout=120)
    assert settled.status is WorkspaceStatus.STOPPED


async def test_delete_is_idempotent_and_touches_nothing_of_another_owner(opened: Opened) -> None:
    workspace_id = await create(opened, start=False)
    # A stranger deleting the id deletes nothing (and is not told it exists).
    await opened.other.delete(opened.stranger, workspace_id, delete_volume=True)
    assert (await opened.backend.get(opened.owner, workspace_id)).id == workspace_id
    for _ in range(2):
        await opened.backend.delete(opened.owner, workspace_id, delete_volume=True)
    with pytest.raises(NotFound):
        await opened.backend.get(opened.owner, workspace_id)
