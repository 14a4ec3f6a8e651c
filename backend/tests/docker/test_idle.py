"""Idle stop on the real engine, with a real Jupyter deciding what counts as activity."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import docker
import httpx
import pytest

from tests.support.apiclient import Api, eventually
from tests.support.jupyter import execute, open_channels, start_kernel

from .test_engine import container_of

pytestmark = pytest.mark.anyio
FAST = {"idle_check_interval": 0.5}


def direct_base(engine: docker.DockerClient, api: Api, workspace: dict[str, Any]) -> str:
    """The workspace's own address (the test runs where the manager runs)."""
    attrs = container_of(engine, api, workspace["id"]).attrs
    address = next(iter(attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    return f"http://{address}:8080{workspace['access_url']}"


async def stays_running(api: Api, workspace_id: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = (await api.get(workspace_id)).json()
        assert state["status"] == "running", state
        await asyncio.sleep(0.5)


async def kernel_state(client: httpx.Client, base: str, kernel_id: str) -> str:
    return str(client.get(f"{base}api/kernels/{kernel_id}").json()["execution_state"])


async def run_until_busy(
    socket: Any, client: httpx.Client, base: str, kernel_id: str, code: str
) -> None:
    """Send `code` until Jupyter reports the kernel busy with it.

    Code sent while the kernel is still starting can be dropped by Jupyter (seen on a loaded
    machine: "the kernel never got busy"), so it is sent again if the kernel has not become
    busy 10 s later. A failure says what Jupyter last reported."""
    state = "unknown"
    for _ in range(4):
        execute(socket, code, wait=False)
        sent = time.monotonic()
        while time.monotonic() < sent + 10:
            state = await kernel_state(client, base, kernel_id)
            if state == "busy":
                return
            await asyncio.sleep(0.2)
    raise AssertionError(f"the kernel never got busy; Jupyter last said {state!r}")


async def test_an_idle_workspace_is_stopped_and_told_why(open_api: Any) -> None:
    async with open_api(**FAST) as api:
        workspace = await api.create_running(display_name="idle", idle_timeout=3)
        assert workspace["stop_reason"] == "after 3 s without activity"
        stopped = await eventually(api, workspace["id"], lambda w: w["status"] == "stopped", 30)
        assert stopped["status_message"].startswith("Stopped after 3 s without activity at ")
        assert stopped["is_stopped"] is True


async def test_a_busy_kernel_is_not_idle(open_api: Any, engine: docker.DockerClient) -> None:
    async with open_api(**FAST) as api:
        # A long timeout while the kernel gets going (on a loaded machine that alone can take
        # longer than the short one below).
        # One CPU and 512 MB: a kernel starting beside the notebook server in the suite's
        # default 0.5 CPU / 256 MB did not answer within a minute once, in a full CI run.
        workspace = await api.create_running(
            display_name="training", idle_timeout=600, compute={"cpus": 1, "memory": 512}
        )
        base = direct_base(engine, api, workspace)
        with (
            httpx.Client(trust_env=False, timeout=30) as client,
            open_channels(base, kernel_id := start_kernel(base, client), {}) as socket,
        ):
            await run_until_busy(socket, client, base, kernel_id, "import time; time.sleep(20)")
            # The clock starts here: past 6 s only the busy kernel can keep it running.
            changed = await api.client.patch(api.path(workspace["id"]), json={"idle_timeout": 6})
            assert changed.status_code == 200, changed.text
            await api.action(workspace["id"], "extend")
            await stays_running(api, workspace["id"], 12)
        stopped = await eventually(api, workspace["id"], lambda w: w["status"] == "stopped", 40)
        assert "without activity" in stopped["status_message"]


async def test_traffic_through_the_proxy_is_activity(open_api: Any) -> None:
    async with open_api(**FAST) as api:
        workspace = await api.create_running(display_name="browsing", idle_timeout=5)
        gate = {"X-Workspace-Id": workspace["id"]}  # as nginx asks on the workspace's origin
        deadline = time.monotonic() + 11
        while time.monotonic() < deadline:
            allowed = await api.client.get("/auth/workspace-access", headers=gate)
            assert allowed.status_code == 204
            assert (await api.get(workspace["id"])).json()["status"] == "running"
            await asyncio.sleep(1)
        await eventually(api, workspace["id"], lambda w: w["status"] == "stopped", 30)


async def test_extend_postpones_idle_stop(open_api: Any) -> None:
    async with open_api(**FAST) as api:
        workspace = await api.create_running(display_name="later", idle_timeout=5)
        for _ in range(3):
            await asyncio.sleep(2)
            await api.action(workspace["id"], "extend")
        assert (await api.get(workspace["id"])).json()["status"] == "running"
        await eventually(api, workspace["id"], lambda w: w["status"] == "stopped", 30)
