"""The Swarm backend itself, in this process, on the real three-node swarm: what needs no
workspace answering (this process is outside the swarm's networks): pulls on the node,
crashes, measuring through the nodes' engines, and tidying up."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import docker
import pytest

from lab_workspace_manager.backends.docker import labels as L
from lab_workspace_manager.backends.swarm import spec as build
from lab_workspace_manager.backends.swarm.backend import SwarmBackend
from lab_workspace_manager.backends.swarm.spec import Record
from lab_workspace_manager.errors import InvalidInput
from lab_workspace_manager.models import WorkspaceSpec, WorkspaceStatus
from lab_workspace_manager.naming import new_workspace_id
from tests.support.images import CRASH_IMAGE, TEST_IMAGE
from tests.support.swarm_cluster import Cluster, push, swarm_settings

pytestmark = pytest.mark.anyio


def spec(image: str = TEST_IMAGE, cpus: float = 0.5) -> WorkspaceSpec:
    return WorkspaceSpec.model_validate(
        {
            "display_name": "direct-" + secrets.token_hex(2),
            "container_image": image,
            "compute": {"cpus": cpus, "memory": 256, "volume_size": 500},
        }
    )


@pytest.fixture
async def backend(swarm: Cluster) -> AsyncIterator[SwarmBackend]:
    settings = swarm_settings(swarm, "t" + secrets.token_hex(4), cpus_max=8)
    opened = SwarmBackend(settings)
    await opened.open()
    yield opened
    for state in await opened.list_workspaces(None):
        await opened.delete(state.owner, state.id, delete_volume=True)
    for _ in range(2):  # (the users' networks: unused at one reconcile, removed at the next)
        await opened.reconcile()
    await opened.close()


def running_task(cluster: Cluster, instance: str, workspace_id: str) -> dict[str, Any] | None:
    client = cluster.client()
    labels = [f"{L.INSTANCE}={instance}", f"{L.WORKSPACE}={workspace_id}"]
    for service in client.api.services(filters={"label": labels}):
        for task in client.api.tasks(filters={"service": service["ID"]}):
            if task["Status"]["State"] == "running" and task["DesiredState"] == "running":
                return dict(task)
    return None


async def until(predicate: Any, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "gave up waiting"
        await asyncio.sleep(0.2)


async def test_a_workspace_bigger_than_any_node_is_refused(
    backend: SwarmBackend, swarm: Cluster
) -> None:
    with pytest.raises(InvalidInput, match=r"No node of this cluster has 3 CPUs .* ask for less"):
        await backend.create("alice", new_workspace_id(), spec(cpus=3), True)
    labels = f"{L.INSTANCE}={backend.settings.instance_id}"
    assert not swarm.client().api.services(filters={"label": labels})


async def test_the_node_pulls_the_image_and_the_status_says_so(
    backend: SwarmBackend, swarm: Cluster, engine: docker.DockerClient
) -> None:
    """An image only the registry has: the node pulls it while the workspace waits."""
    local = f"lwm-test-swarm-pull:{secrets.token_hex(3)}"
    engine.images.get(TEST_IMAGE).tag(local)
    try:
        image = push(engine, swarm, local)
    finally:
        engine.images.remove(local)
    workspace_id = new_workspace_id()
    await backend.create("alice", workspace_id, spec(image), True)
    said = set()

    async def placed() -> bool:
        said.add((await backend.get("alice", workspace_id)).status_message)
        return running_task(swarm, backend.settings.instance_id, workspace_id) is not None

    await until(placed)
    assert any(m.startswith("Preparing on node") and f"pulling {image}" in m for m in said), said


async def test_a_crashing_workspace_is_retried_then_failed_then_left_stopped_by_a_change(
    backend: SwarmBackend,
) -> None:
    workspace_id = new_workspace_id()
    await backend.create("alice", workspace_id, spec(CRASH_IMAGE), True)

    async def failed() -> bool:
        state = await backend.get("alice", workspace_id)
        return state.status is WorkspaceStatus.FAILED

    await until(failed, timeout=120)
    state = await backend.get("alice", workspace_id)
    assert "exited with code" in state.status_message
    assert state.status_message.endswith("It was not started again.")

    # New settings do not start it behind the quotas' back: it is left stopped.
    changed = await backend.update("alice", workspace_id, spec(TEST_IMAGE))
    assert changed.status is WorkspaceStatus.STOPPED
    assert changed.status_message == ("Stopped after it failed; start it to try the new settings.")


async def test_usage_is_measured_on_the_node_or_said_to_be_not(
    backend: SwarmBackend, swarm: Cluster
) -> None:
    workspace_id = new_workspace_id()
    await backend.create("alice", workspace_id, spec(), True)
    instance = backend.settings.instance_id

    async def runs() -> bool:
        return running_task(swarm, instance, workspace_id) is not None

    await until(runs)
    task = running_task(swarm, instance, workspace_id)
    assert task is not None
    node = swarm.hostname_of(task["NodeID"])
    measured = await backend.measure(disk=False)
    assert measured[workspace_id].memory_used is not None
    assert measured[workspace_id].not_measured == ""
    disk = await backend.measure(disk=True)
    assert disk[workspace_id].volume_used is not None

    blind = SwarmBackend(backend.settings.model_copy(update={"swarm_node_docker_host": None}))
    try:
        unmeasured = await blind.measure(disk=False)
    finally:
        await blind.close()
    assert unmeasured[workspace_id].memory_used is None
    assert unmeasured[workspace_id].not_measured == (
        f"Not measured on node {node}: this manager does not reach the engine of node "
        f"{node} (an administrator sets SWARM_NODE_DOCKER_HOST for that)."
    )


async def test_reconcile_pins_a_placed_workspace_and_removes_unused_networks(
    backend: SwarmBackend, swarm: Cluster
) -> None:
    """What a manager that stopped at the wrong moment leaves: a workspace placed but not
    pinned to its node; and a user network no workspace uses (removed once it stayed unused
    from one reconcile to the next)."""
    settings = backend.settings
    client = swarm.client()
    client.api.create_network(**build.network_config(settings, "ghost"))
    workspace_id = new_workspace_id()
    record = Record.new("alice", workspace_id, spec(), True)
    client.api.create_network(**build.network_config(settings, "alice"))
    client.api.create_service(**build.service_config(settings, record))
    instance = settings.instance_id

    async def runs() -> bool:
        return running_task(swarm, instance, workspace_id) is not None

    await until(runs)
    assert await backend.reconcile() == []  # unused: noted
    removed = await backend.reconcile()
    assert removed == [build.network_config(settings, "ghost")["name"]]
    labels = [f"{L.INSTANCE}={instance}", f"{L.WORKSPACE}={workspace_id}"]
    service = client.api.services(filters={"label": labels})[0]
    task = running_task(swarm, instance, workspace_id)
    assert task is not None
    assert service["Spec"]["TaskTemplate"]["Placement"]["Constraints"] == [
        f"node.id=={task['NodeID']}"
    ]
    # Pinned without a restart: the same task still runs.
    assert len(client.api.tasks(filters={"service": service["ID"]})) == 1
