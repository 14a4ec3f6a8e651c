"""Usage numbers against what a workspace really does, and the soft disk limit."""

from __future__ import annotations

import asyncio
from typing import Any

import docker
import pytest

from tests.support.apiclient import Api

from .test_engine import container_of, run_in

pytestmark = pytest.mark.anyio


def monitor(api: Api) -> Any:
    return api.app.state.runtime.usage


async def test_cpu_and_memory_are_measured(api: Api, engine: docker.DockerClient) -> None:
    workspace = await api.create_running(display_name="busy", compute={"cpus": 0.5, "memory": 512})
    container_of(engine, api, workspace["id"]).exec_run(
        ["python3", "-c", "x = bytearray(200 * 1024 * 1024)\nwhile True: pass"], detach=True
    )
    await asyncio.sleep(2)
    await monitor(api).sample_compute()
    await asyncio.sleep(2)
    await monitor(api).sample_compute()
    stats = (await api.client.get(api.path(workspace["id"]) + "/stats")).json()
    assert 35 <= stats["cpu_percent"] <= 60, stats  # held to half a CPU
    assert stats["cpu_limit_percent"] == 50
    assert 200 <= stats["memory_used"] <= 300, stats
    assert stats["memory_limit"] == 512
    assert stats["measured_at"]


async def test_disk_use_is_measured_and_the_limit_stops_without_deleting(
    open_api: Any, engine: docker.DockerClient
) -> None:
    async with open_api(disk_grace_seconds=0) as api:
        workspace = await api.create_running(display_name="full", compute={"volume_size": 100})
        container = container_of(engine, api, workspace["id"])
        write = "dd if=/dev/zero of=/workspace/data bs=1M count=95 status=none"
        assert run_in(container, write)[0] == 0
        await monitor(api).sample_disk()
        stats = (await api.client.get(api.path(workspace["id"]) + "/stats")).json()
        assert 93 <= stats["volume_used"] <= 100, stats
        assert stats["volume_limit"] == 100
        assert stats["warnings"] == [f"/workspace uses {stats['volume_used']} of 100 MB."]
        assert stats["container_used"] is not None
        assert (await api.get(workspace["id"])).json()["status"] == "running"

        more = "dd if=/dev/zero of=/workspace/more bs=1M count=30 status=none"
        assert run_in(container, more)[0] == 0
        assert await monitor(api).sample_disk() == [workspace["id"]]
        stopped = (await api.get(workspace["id"])).json()
        assert stopped["status"] == "stopped"
        assert (
            "held 125 MB, more than its 100 MB limit (nothing was deleted)"
            in (stopped["status_message"])
        )
        await api.action(workspace["id"], "start", wait=True)
        listing = run_in(container_of(engine, api, workspace["id"]), "ls /workspace")[1]
        assert listing.split() == ["data", "more"]


async def test_time_to_make_room_is_given_once_per_overrun(
    open_api: Any, engine: docker.DockerClient
) -> None:
    """A fresh workspace over its size is stopped at the first check (no grace for a first
    start); the first start after that stop has the grace period; after it, the workspace is
    stopped and cannot be started again by its user (an administrator can, once more); once
    within its size, a new overrun gets a new grace period."""
    async with open_api(disk_grace_seconds=4) as api:
        workspace = await api.create_running(display_name="grace", compute={"volume_size": 100})
        write = "dd if=/dev/zero of=/workspace/data bs=1M count=120 status=none"
        assert run_in(container_of(engine, api, workspace["id"]), write)[0] == 0
        assert await monitor(api).sample_disk() == [workspace["id"]]
        first = (await api.get(workspace["id"])).json()
        assert "Start it again and make room within" in first["status_message"], first

        await api.action(workspace["id"], "start", wait=True)
        assert await monitor(api).sample_disk() == []  # the grace period
        await asyncio.sleep(4)
        assert await monitor(api).sample_disk() == [workspace["id"]]
        again = (await api.get(workspace["id"])).json()
        assert "the time to make room has passed (nothing was deleted)" in again["status_message"]
        # Starting it again gives no more time: it is refused, and says what to do.
        refused = await api.client.post(api.path(workspace["id"]) + ":start")
        assert refused.status_code == 409, refused.text
        assert "Give it a larger disk" in refused.json()["detail"]

        # An administrator's start gives the time once more; making room ends the overrun.
        admin = api.as_user(is_admin=True)
        started = await admin.client.post(
            admin.path(workspace["id"], user=api.user) + ":start", params={"wait": "true"}
        )
        assert started.json()["status"] == "running", started.text
        assert await monitor(api).sample_disk() == []
        container = container_of(engine, api, workspace["id"])
        assert run_in(container, "rm /workspace/data && ls -A /workspace")[1] == ""
        assert await monitor(api).sample_disk() == []
        assert run_in(container, write)[0] == 0
        assert await monitor(api).sample_disk() == [workspace["id"]]
        await api.action(workspace["id"], "start", wait=True)
        assert await monitor(api).sample_disk() == []  # a new overrun, a new grace period


async def test_files_outside_the_volume_are_held_to_the_container_size(
    open_api: Any, engine: docker.DockerClient
) -> None:
    """Where the engine cannot limit a container's writable layer (overlay2 without quotas),
    its size is measured and enforced by stopping, like /workspace's."""
    async with open_api(disk_grace_seconds=0, container_size=100) as api:
        if api.backend.disk_limits.hard_container_size:
            pytest.skip("this engine holds containers to their size itself")
        workspace = await api.create_running(display_name="layer")
        write = "dd if=/dev/zero of=/root/big bs=1M count=130 status=none"
        assert run_in(container_of(engine, api, workspace["id"]), write)[0] == 0
        assert await monitor(api).sample_disk() == [workspace["id"]]
        stopped = (await api.get(workspace["id"])).json()
        assert "the files outside /workspace held" in stopped["status_message"], stopped
        assert "more than their 100 MB limit (nothing was deleted)" in stopped["status_message"]
