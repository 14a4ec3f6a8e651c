"""One user's flood of changes cannot hold up anyone else (issue 13, real engine).

A second change of a workspace under change is answered at once (409, what is in progress);
a user has at most a few changes running and a few waiting (then 429); engine work runs in
pools of its own, so a full pool of changes leaves reads, the proxy's access check and
anyio's default pool (FastAPI's sync dependencies) free.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
import docker
import httpx
import pytest

from lab_workspace_manager import operations
from lab_workspace_manager.backends.docker import cleaner
from lab_workspace_manager.backends.docker.backend import DockerBackend
from lab_workspace_manager.errors import Busy
from lab_workspace_manager.models import ComputeSpec, WorkspaceSpec
from tests.support.apiclient import Api, eventually
from tests.support.docker_api import docker_api
from tests.support.images import TEST_IMAGE

pytestmark = pytest.mark.anyio

SMALL = {"cpus": 0.5, "memory": 256, "volume_size": 100}


@pytest.fixture
async def api(engine: docker.DockerClient) -> AsyncIterator[Api]:
    async with docker_api() as api:
        yield api


async def test_parallel_restarts_of_one_workspace_are_answered_at_once(api: Api) -> None:
    workspace = await api.create_running(display_name="flooded", compute=SMALL)
    path = f"{api.path(workspace['id'])}:restart"

    async def restart() -> tuple[httpx.Response, float]:
        began = time.monotonic()
        response = await api.client.post(path)
        return response, time.monotonic() - began

    answers = await asyncio.gather(*(restart() for _ in range(30)))
    codes = sorted(r.status_code for r, _ in answers)
    assert set(codes) <= {200, 409, 429}, codes
    assert codes.count(200) >= 1, codes
    refused = [(r, took) for r, took in answers if r.status_code == 409]
    assert refused, "no restart was refused while another ran"
    for response, _ in refused:
        assert "being restarted" in response.json()["detail"], response.text
        assert "try again" in response.json()["detail"], response.text
    # Nobody queued behind the restart that ran: every refusal came before it finished.
    longest_restart = max(took for r, took in answers if r.status_code == 200)
    assert max(took for _, took in refused) <= longest_restart + 1
    await eventually(api, workspace["id"], lambda w: w["status"] == "running")


async def test_a_user_gets_429_beyond_their_share_of_changes(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 creates at once by one user: 4 run, 16 wait, the rest are told to wait; the
    others' creates are not held up meanwhile, and nothing is left behind."""
    backend = api.backend
    assert isinstance(backend, DockerBackend)
    flood = [
        api.client.post(api.path(), json={"display_name": f"many-{n}", "compute": SMALL})
        for n in range(40)
    ]
    other = api.as_user()
    results = await asyncio.gather(
        *flood, other.client.post(other.path(), json={"display_name": "mine", "compute": SMALL})
    )
    *mine, theirs = results
    assert theirs.status_code == 201, theirs.text
    codes = [r.status_code for r in mine]
    assert codes.count(201) == operations.PER_USER + operations.WAITING_PER_USER, codes
    assert codes.count(429) == 40 - codes.count(201), codes
    refused = next(r for r in mine if r.status_code == 429)
    assert "Wait for them to finish" in refused.json()["detail"]
    assert refused.headers["Retry-After"] == "1"
    listed = (await api.client.get(api.path())).json()
    assert len(listed) == codes.count(201)


async def test_a_full_pool_of_changes_leaves_reads_and_the_proxy_free(api: Api) -> None:
    """Every change thread busy (slow engine calls of 16 users): another user's list, the
    proxy's access check and the default pool still answer at once."""
    backend = api.backend
    assert isinstance(backend, DockerBackend)
    reader = api.as_user()
    created = await reader.create_running(display_name="reader", compute=SMALL)
    original = backend.lifecycle.start

    def slow_start(owner: str, workspace_id: str, restart: bool) -> None:
        time.sleep(4)  # an engine that takes its time

    backend.lifecycle.start = slow_start  # type: ignore[method-assign]
    try:
        flood = [
            asyncio.create_task(backend.restart(f"flooder-{n}", f"ws{n}")) for n in range(3 * 16)
        ]
        await asyncio.sleep(0.5)
        assert backend.pools.changes.limiter.borrowed_tokens == 16
        timings = {}
        for name, call in (
            ("list", lambda: reader.client.get(reader.path())),
            ("locate", lambda: backend.locate(created["id"])),
            ("default pool", lambda: anyio.to_thread.run_sync(lambda: None)),
        ):
            began = time.monotonic()
            result: Any = await call()
            timings[name] = time.monotonic() - began
            if name == "list":
                assert result.status_code == 200, result.text
            if name == "locate":
                assert result is not None and result[0] == reader.user
        assert all(not task.done() for task in flood), "the flood should still be running"
        assert max(timings.values()) < 1.0, timings
    finally:
        for task in flood:
            task.cancel()
        await asyncio.gather(*flood, return_exceptions=True)
        backend.lifecycle.start = original  # type: ignore[method-assign]


async def test_a_delete_during_a_create_is_refused_not_half_done(api: Api) -> None:
    """The create's id is on /events before the create has finished: a delete then is
    refused (it used to leave a container without a record and an orphaned volume)."""
    backend = api.backend
    assert isinstance(backend, DockerBackend)
    spec = WorkspaceSpec(
        display_name="racing", container_image=TEST_IMAGE, compute=ComputeSpec(**SMALL)
    )
    create = asyncio.create_task(backend.create(api.user, "racing1", spec, start=True))
    deadline = time.monotonic() + 10
    while backend.operations.in_progress(api.user, "racing1") is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)
    with pytest.raises(Busy, match="being created"):
        await backend.delete(api.user, "racing1", delete_volume=True)
    await create
    await backend.delete(api.user, "racing1", delete_volume=True)
    leftovers = backend.client.containers.list(all=True, filters={"label": "lwm.workspace=racing1"})
    assert leftovers == []
    assert backend.client.volumes.list(filters={"label": "lwm.workspace=racing1"}) == []


async def test_a_slow_clear_on_stop_does_not_hold_the_stop(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Emptying a volume with millions of files takes long: the stop answers after a bounded
    wait and says so; a start meanwhile is refused, not run over a volume being emptied."""
    monkeypatch.setattr(cleaner, "WAIT_SECONDS", 0.05)
    workspace = await api.create_running(
        display_name="clears", compute=SMALL, clear_volume_on_stop=True
    )
    backend = api.backend
    assert isinstance(backend, DockerBackend)
    container = backend.client.containers.list(
        filters={"label": [f"lwm.workspace={workspace['id']}", "lwm.kind=workspace"]}
    )[0]
    # Enough files that deleting them takes longer than the wait.
    exit_code, output = container.exec_run(
        ["sh", "-c", "mkdir -p /workspace/many && cd /workspace/many && seq 1 20000 | xargs touch"]
    )
    assert exit_code == 0, output
    stopped = await api.action(workspace["id"], "stop")
    assert stopped["status"] == "stopped"
    started = await api.client.post(f"{api.path(workspace['id'])}:start")
    if started.status_code == 409:
        assert "still being emptied" in started.json()["detail"], started.text
    else:  # the cleaner was quicker than this machine: nothing to show, but nothing wrong
        assert started.status_code == 200, started.text
    deadline = time.monotonic() + 60
    while started.status_code == 409:
        assert time.monotonic() < deadline, "the cleaner never finished"
        await asyncio.sleep(0.5)
        started = await api.client.post(f"{api.path(workspace['id'])}:start")
    await eventually(api, workspace["id"], lambda w: w["status"] == "running")
    container = backend.client.containers.list(
        filters={"label": [f"lwm.workspace={workspace['id']}", "lwm.kind=workspace"]}
    )[0]
    exit_code, output = container.exec_run(["sh", "-c", "ls -A /workspace | wc -l"])
    assert output.decode().strip() == "0", output


async def test_a_users_flood_does_not_hold_off_an_automatic_stop(api: Api) -> None:
    """Idle, disk and lifetime stops (and an administrator's) wait their turn instead of
    being refused, and are handed the workspace before the flood's next request."""
    workspace = await api.create_running(display_name="flooded", compute=SMALL)
    path = f"{api.path(workspace['id'])}:restart"
    end = time.monotonic() + 4

    async def flood() -> None:
        while time.monotonic() < end:
            await api.client.post(path)

    flooding = [asyncio.create_task(flood()) for _ in range(8)]
    await asyncio.sleep(0.5)
    stopped = await api.backend.stop(api.user, workspace["id"], reason="after 1 min idle")
    assert stopped.status_message.startswith("Stopped after 1 min idle"), stopped
    await asyncio.gather(*flooding)


async def test_deleting_another_users_workspace_id_touches_nothing_of_theirs(api: Api) -> None:
    """204 (a delete of what is not yours is a delete of nothing), and no event, history,
    activity or measurement of the owner's workspace is lost."""
    theirs = await api.create(display_name="theirs", is_stopped=True, compute=SMALL)
    app = api.app
    app.state.runtime.activity.touch(theirs["id"])
    history = app.state.runtime.events.history(theirs["id"])
    intruder = api.as_user()
    gone = await intruder.client.delete(
        intruder.path(theirs["id"]), params={"delete_volumes": "true"}
    )
    assert gone.status_code == 204
    assert app.state.runtime.events.history(theirs["id"]) == history
    assert app.state.runtime.activity.last(theirs["id"]) is not None
    assert (await api.get(theirs["id"])).status_code == 200


async def test_logs_are_read_one_at_a_time_per_user(api: Api) -> None:
    backend = api.backend
    assert isinstance(backend, DockerBackend)
    mine = await api.create(display_name="talks", is_stopped=True, compute=SMALL)
    other = api.as_user()
    theirs = await other.create(display_name="talks too", is_stopped=True, compute=SMALL)
    original = backend.lifecycle.logs

    def slow(owner: str, workspace_id: str, tail: int) -> str:
        time.sleep(1)
        return original(owner, workspace_id, tail)

    backend.lifecycle.logs = slow  # type: ignore[method-assign]
    try:
        first, second, others = await asyncio.gather(
            api.client.get(api.path(mine["id"]) + "/logs"),
            api.client.get(api.path(mine["id"]) + "/logs"),
            other.client.get(other.path(theirs["id"]) + "/logs"),
        )
    finally:
        backend.lifecycle.logs = original  # type: ignore[method-assign]
    assert sorted([first.status_code, second.status_code]) == [200, 429]
    assert others.status_code == 200


async def test_a_change_made_stands_when_the_listing_after_it_fails(api: Api) -> None:
    """Regression: the engine went away just after a create was made; the listing after it
    failed, and the caller was told the create had failed (it was listed all the same)."""
    import requests.exceptions

    backend = api.backend
    assert isinstance(backend, DockerBackend)

    create, refresh = backend.lifecycle.create, backend.inventory.refresh
    made_it = []

    def create_then_engine_gone(*args: Any) -> None:
        create(*args)
        made_it.append(True)

    def gone_once_made(owner: str | None = None) -> None:
        if made_it:
            raise requests.exceptions.ConnectionError("engine gone")
        refresh(owner)

    backend.lifecycle.create = create_then_engine_gone  # type: ignore[method-assign]
    backend.inventory.refresh = gone_once_made  # type: ignore[method-assign]
    made = await api.client.post(api.path(), json={"display_name": "made", "compute": SMALL})
    assert made.status_code == 201, made.text
    assert [w["id"] for w in (await api.client.get(api.path())).json()] == [made.json()["id"]]
