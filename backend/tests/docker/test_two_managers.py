"""Two managers side by side against one engine, sharing DATA_DIR (replicas, or an old and a
new one during an update): every invariant holds as with one. Each has its own runtime,
backend, inventory and memory, exactly as two processes have."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import docker
import pytest

from lab_workspace_manager.backends.docker import labels as L
from lab_workspace_manager.backends.docker.backend import DockerBackend
from lab_workspace_manager.errors import Unauthenticated
from tests.support.apiclient import Api, eventually, issue_token, open_api
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio
SMALL = {"cpus": 0.5, "memory": 128, "volume_size": 100}


@asynccontextmanager
async def two_managers(**overrides: Any) -> AsyncIterator[tuple[Api, Api]]:
    """The same user, signed in with one token, on two managers."""
    settings = make_settings(workspace_backend="docker", **overrides)
    async with AsyncExitStack() as stack:
        backends = [DockerBackend(settings), DockerBackend(settings)]
        for backend in backends:
            stack.push_async_callback(backend.close)
        first = await stack.enter_async_context(open_api(settings, backends[0]))
        # (Issued by the first: the second knows it from the DATA_DIR they share.)
        second = await stack.enter_async_context(
            open_api(settings, backends[1], token=first.token, user=first.user)
        )
        yield first, second


async def listed(api: Api, count: int) -> list[dict[str, Any]]:
    """The user's workspaces once `count` are seen (what the other manager made shows after
    the engine's event about it)."""
    deadline = time.monotonic() + 10
    while True:
        found = (await api.client.get(api.path())).json()
        if len(found) == count or time.monotonic() > deadline:
            return list(found)
        await asyncio.sleep(0.1)


def workspace_containers(engine: docker.DockerClient, workspace_id: str) -> list[Any]:
    wanted = [f"{L.WORKSPACE}={workspace_id}", f"{L.KIND}={L.KIND_WORKSPACE}"]
    return list(engine.containers.list(all=True, filters={"label": wanted}))


async def test_a_name_is_taken_once_whichever_manager_is_asked(engine: docker.DockerClient) -> None:
    async with two_managers() as (first, second):
        for round_ in range(3):
            name = f"same-{round_}"
            made = await asyncio.gather(
                first.client.post(first.path(), json={"display_name": name, "is_stopped": True}),
                second.client.post(
                    second.path(), json={"display_name": name.upper(), "is_stopped": True}
                ),
            )
            assert sorted(r.status_code for r in made) == [201, 409], [r.text for r in made]
            refused = next(r for r in made if r.status_code == 409)
            assert "already have a workspace named" in refused.json()["detail"]
        for api in (first, second):
            names = [w["display_name"].lower() for w in await listed(api, 3)]
            assert sorted(names) == ["same-0", "same-1", "same-2"]


async def test_a_quota_holds_across_managers(engine: docker.DockerClient) -> None:
    async with two_managers(quota_workspaces=1) as (first, second):
        made = await asyncio.gather(
            first.client.post(first.path(), json={"display_name": "a", "is_stopped": True}),
            second.client.post(second.path(), json={"display_name": "b", "is_stopped": True}),
        )
        assert sorted(r.status_code for r in made) == [201, 409], [r.text for r in made]
        refused = next(r for r in made if r.status_code == 409)
        assert "you may have at most 1 workspaces" in refused.json()["detail"]
        for api in (first, second):
            assert len(await listed(api, 1)) == 1


async def test_two_managers_never_build_one_workspace_twice(engine: docker.DockerClient) -> None:
    """Its container gone (an interrupted change), both managers are asked to start it at
    once: one builds it, the other waits its turn or says it is busy; one container results."""
    async with two_managers() as (first, second):
        workspace = await first.create(display_name="once", is_stopped=True, compute=SMALL)
        for container in workspace_containers(engine, workspace["id"]):
            container.remove(force=True)
        path = first.path(workspace["id"]) + ":start"
        started = await asyncio.gather(first.client.post(path), second.client.post(path))
        codes = sorted(r.status_code for r in started)
        assert codes in ([200, 200], [200, 409]), [r.text for r in started]
        # Refused as busy, not run into the engine's conflict over the container's name.
        for refused in (r for r in started if r.status_code == 409):
            assert "being changed through another manager" in refused.json()["detail"]
        (container,) = workspace_containers(engine, workspace["id"])
        assert not container.name.endswith("-next")
        for api in (first, second):
            await eventually(api, workspace["id"], lambda w: w["status"] == "running")


async def test_a_token_and_its_revocation_count_on_both(engine: docker.DockerClient) -> None:
    async with two_managers() as (first, second):
        token = issue_token(first.app, "traveller")
        other = second.app.state.runtime.authenticator
        assert (await other.identify(token)).user_id == "traveller"
        issuer = first.app.state.runtime.authenticator
        (issued,) = [t for t in issuer.issued() if t.user_id == "traveller"]
        issuer.revoke(issued.id)
        with pytest.raises(Unauthenticated):
            await other.identify(token)


async def test_what_one_managers_proxy_saw_keeps_the_other_from_idle_stopping(
    engine: docker.DockerClient,
) -> None:
    async with two_managers() as (first, second):
        workspace = await first.create_running(display_name="busy", idle_timeout=3, compute=SMALL)
        seen_by_first = first.app.state.runtime.activity
        watcher_of_second = second.app.state.runtime.idle
        began = time.monotonic()
        while time.monotonic() - began < 5:  # longer than its idle timeout
            seen_by_first.touch(workspace["id"])
            assert await watcher_of_second.check_once() == []
            await asyncio.sleep(1)
        await asyncio.sleep(3.5)  # then quiet for longer than the timeout
        assert await watcher_of_second.check_once() == [workspace["id"]]
