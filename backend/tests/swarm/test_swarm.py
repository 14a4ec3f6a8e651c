"""The Swarm backend on a real three-node swarm (`tests.support.swarm_cluster`), driven through
the manager's image running on node1, as a deployment runs it.

What only a cluster shows: placement by reservations, limits on the node that runs the task,
data that stays on its node (stop/start, drain, a node killed and back), the proxy reaching a
workspace on another node (HTTP and WebSocket), and users kept apart across nodes.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import docker
import pytest

from tests.support.apiclient import Api, eventually
from tests.support.images import TEST_IMAGE
from tests.support.jupyter import execute, open_channels, start_kernel
from tests.support.manager_image import Manager
from tests.support.settings import SESSION_INSTANCE
from tests.support.swarm_cluster import NODE_NAMES, Cluster, swarm_api, task_of

pytestmark = pytest.mark.anyio

JUPYTER_TITLE = "<title>Home Page - Select or create a notebook</title>"


@pytest.fixture
async def api(swarm: Cluster, swarm_manager: Manager) -> AsyncIterator[Api]:
    async with swarm_api(swarm, swarm_manager) as helper:
        yield helper


def service_of(cluster: Cluster, instance: str, workspace_id: str) -> dict[str, Any]:
    labels = [f"lwm.instance={instance}", f"lwm.workspace={workspace_id}"]
    return dict(cluster.client("node1").api.services(filters={"label": labels})[0])


@contextmanager
def full(cluster: Cluster, *nodes: str) -> Iterator[None]:
    """No room for a new workspace on `nodes` meanwhile: a service reserving nearly all
    their free CPUs. (Not by draining: on a drained node the manager's own container, not a
    task of the swarm, could not join a new user's network.)"""
    client = cluster.client("node1")
    services = []
    for node in nodes:
        free = _free_cpus(client, cluster.node_id(node))
        services.append(
            client.api.create_service(
                {
                    "ContainerSpec": {
                        "Image": TEST_IMAGE,
                        "Command": ["sleep", "infinity"],
                        "StopGracePeriod": 0,  # (sleep ignores SIGTERM)
                    },
                    # Less is left than the smallest workspace reserves (0.5 CPUs).
                    "Resources": {"Reservations": {"NanoCPUs": max(free - 200_000_000, 1)}},
                    "Placement": {"Constraints": [f"node.hostname=={node}"]},
                },
                name=f"{cluster.name}-full-{node}",
                labels={"lwm.instance": SESSION_INSTANCE},
            )["ID"]
        )
    try:
        deadline = time.monotonic() + 60
        while not all(_runs(client, service) for service in services):
            if time.monotonic() > deadline:
                states = [client.api.tasks(filters={"service": s}) for s in services]
                raise AssertionError(f"the filler services did not start: {states}")
            time.sleep(0.2)
        yield
    finally:
        for service in services:
            client.api.remove_service(service)


def _free_cpus(client: docker.DockerClient, node_id: str) -> int:
    """NanoCPUs of the node that no task wanted running there reserves."""
    total = client.api.inspect_node(node_id)["Description"]["Resources"]["NanoCPUs"]
    for task in client.api.tasks(filters={"node": node_id, "desired-state": "running"}):
        reservations = (task["Spec"].get("Resources") or {}).get("Reservations") or {}
        total -= reservations.get("NanoCPUs", 0)
    return int(total)


def _runs(client: docker.DockerClient, service: str) -> bool:
    tasks = client.api.tasks(filters={"service": service})
    return any(t["Status"]["State"] == "running" for t in tasks)


@contextmanager
def drained(cluster: Cluster, node: str) -> Iterator[None]:
    """The swarm moves nothing new to `node` meanwhile."""
    cluster.set_availability(node, "drain")
    try:
        yield
    finally:
        cluster.set_availability(node, "active")


async def test_workspaces_spread_over_the_nodes_by_their_reservations(
    api: Api, swarm: Cluster, swarm_manager: Manager
) -> None:
    """Each node has 2 CPUs: three workspaces reserving 1.5 each take one node each, and a
    fourth waits, saying why, until one of them stops."""
    created = [
        await api.create_running(display_name=f"big{i}", compute={"cpus": 1.5}) for i in range(3)
    ]
    nodes = {task_of(swarm, swarm_manager.instance, w["id"])[0] for w in created}
    assert nodes == set(NODE_NAMES)

    fourth = await api.create(display_name="big3", compute={"cpus": 1.5})
    waiting = await eventually(api, fourth["id"], lambda w: "free now" in w["status_message"])
    assert waiting["status"] == "pending"
    assert "No node has 1.5 CPUs and 256 MB of memory free now" in waiting["status_message"]

    await api.action(created[0]["id"], "stop")
    started = await eventually(api, fourth["id"], lambda w: w["status"] == "running")
    assert started["status_message"].startswith("Running on node ")


async def test_limits_hold_on_the_node_that_runs_the_task(
    api: Api, swarm: Cluster, swarm_manager: Manager
) -> None:
    workspace = await api.create_running(
        display_name="limited", compute={"cpus": 0.5, "memory": 1000}
    )
    _, container = task_of(swarm, swarm_manager.instance, workspace["id"])
    host = container.attrs["HostConfig"]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == 1000 * 2**20
    assert host["PidsLimit"] == api.settings.pids_limit
    assert not host["Privileged"]
    assert {"NET_RAW", "MKNOD"} <= {c.removeprefix("CAP_") for c in host["CapDrop"] or []}
    # Enforced, not only written down: the kernel's own limits inside the task's container.
    code, out = container.exec_run(["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"])
    assert code == 0 and int(out) == 1000 * 2**20
    code, out = container.exec_run(["sh", "-c", "df -m /dev/shm | tail -1"])
    assert code == 0 and out.split()[1:2] == [str(api.settings.shm_size).encode()], out
    # More than /dev/shm holds (and less than the memory limit): cut at its size.
    code, out = container.exec_run(
        ["sh", "-c", "head -c 700000000 /dev/zero > /dev/shm/fill; stat -c %s /dev/shm/fill"]
    )
    assert b"No space left on device" in out
    assert int(out.split()[-1]) == api.settings.shm_size * 2**20
    assert "/workspace" in {m["Destination"] for m in container.attrs["Mounts"]}


async def test_stop_and_start_keep_the_node_and_the_data(
    api: Api, swarm: Cluster, swarm_manager: Manager
) -> None:
    workspace = await api.create_running(display_name="keeps")
    node, container = task_of(swarm, swarm_manager.instance, workspace["id"])
    assert container.exec_run(["sh", "-c", "echo precious > /workspace/data.txt"])[0] == 0

    stopped = await api.action(workspace["id"], "stop")
    assert stopped["status"] == "stopped"
    service = service_of(swarm, swarm_manager.instance, workspace["id"])
    assert service["Spec"]["Mode"]["Replicated"]["Replicas"] == 0  # kept, scaled to 0
    assert service["Spec"]["TaskTemplate"]["Placement"]["Constraints"] == [
        f"node.id=={swarm.node_id(node)}"
    ]

    started = await api.action(workspace["id"], "start", wait=True)
    assert started["status"] == "running"
    again, container = task_of(swarm, swarm_manager.instance, workspace["id"])
    assert again == node
    assert container.exec_run(["cat", "/workspace/data.txt"]).output == b"precious\n"


async def test_clear_on_stop_empties_the_workspace_on_its_node(
    api: Api, swarm: Cluster, swarm_manager: Manager
) -> None:
    workspace = await api.create_running(display_name="scratch", clear_volume_on_stop=True)
    _, container = task_of(swarm, swarm_manager.instance, workspace["id"])
    assert container.exec_run(["sh", "-c", "echo gone > /workspace/data.txt"])[0] == 0
    assert (await api.action(workspace["id"], "stop"))["status"] == "stopped"
    started = await api.action(workspace["id"], "start", wait=True)
    assert started["status"] == "running"
    _, container = task_of(swarm, swarm_manager.instance, workspace["id"])
    assert container.exec_run(["ls", "-A", "/workspace"]).output == b""


async def test_the_proxy_opens_a_workspace_on_another_node(
    api: Api, swarm: Cluster, swarm_manager: Manager
) -> None:
    """The manager runs on node1; the workspace on another node, reached over the user's
    overlay network: pages over HTTP, and a kernel over a WebSocket."""
    with full(swarm, "node1"):
        workspace = await api.create_running(display_name="far")
    node, _ = task_of(swarm, swarm_manager.instance, workspace["id"])
    assert node != "node1"
    path = f"/workspaces/{workspace['id']}/tree"
    with swarm_manager.workspace_client(workspace["id"], api.token) as client:
        page = client.get(path)
        assert page.status_code == 200 and JUPYTER_TITLE in page.text
        kernel_id = start_kernel(workspace["access_url"], client)
    base = swarm_manager.workspace_url(workspace["id"]) + workspace["access_url"]
    through = swarm_manager.url.removeprefix("http://")
    headers = {"Authorization": f"Bearer {api.token}"}
    with open_channels(base, kernel_id, headers, through) as socket:
        assert execute(socket, "print(6 * 7)") == "42\n"
    with swarm_manager.workspace_client(workspace["id"], api.as_user().token) as other:
        assert other.get(path).status_code == 403


async def test_users_cannot_reach_each_other_across_nodes(
    api: Api, swarm: Cluster, swarm_manager: Manager
) -> None:
    with full(swarm, "node1", "node3"):
        alice = await api.create_running(display_name="alice's")
    bob_api = api.as_user()
    with full(swarm, "node1", "node2"):
        bob = await bob_api.create_running(display_name="bob's")
    alice_node, alice_container = task_of(swarm, swarm_manager.instance, alice["id"])
    bob_node, bob_container = task_of(swarm, swarm_manager.instance, bob["id"])
    assert (alice_node, bob_node) == ("node2", "node3")
    networks = alice_container.attrs["NetworkSettings"]["Networks"]
    alice_address = next(
        n["IPAddress"] for name, n in networks.items() if name.startswith(swarm_manager.instance)
    )
    # A secret only alice's Jupyter serves. (Whether a connection fails says little here:
    # what leaves a node unrouted may meet some other server on the way.)
    secret = secrets.token_hex(8)
    command = f"echo {secret} > /workspace/secret.txt"
    assert alice_container.exec_run(["sh", "-c", command])[0] == 0
    target = f"http://{alice_address}:8080{alice['access_url']}api/contents/secret.txt"
    fetch = ["curl", "-s", "-m", "3", target]
    assert secret.encode() not in bob_container.exec_run(fetch).output
    # Control: the manager, joined to both users' networks, reaches it.
    assert secret.encode() in swarm_manager.container.exec_run(fetch).output


async def test_workspaces_reach_neither_metadata_nor_the_other_nodes(
    api: Api, swarm: Cluster, swarm_manager: Manager
) -> None:
    """WORKSPACE_EGRESS_BLOCK holds on every node: link-local addresses (a cloud's metadata
    service) and the nodes' own services are out of a workspace's reach."""
    config = (await api.client.get("/config")).json()
    assert config["egress_blocked"] == ["metadata", "host"]
    with full(swarm, "node1"):
        workspace = await api.create_running(display_name="egress")
    node, container = task_of(swarm, swarm_manager.instance, workspace["id"])
    assert node != "node1"
    # What this machine's network does not route meets a server that answers anything with
    # 404; a blocked request gets no answer at all (curl's 000).
    metadata = "http://169.254.169.254/latest/meta-data/"
    other_node = f"http://{swarm.addresses['node1']}:{swarm_manager.port}/api/healthz"
    probe = ["curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}"]
    assert container.exec_run([*probe, metadata]).output == b"000"
    assert container.exec_run([*probe, other_node]).output == b"000"

    # Control: a container of the same node outside the swarm's networks gets answers.
    def outside(url: str) -> str:
        prober = swarm.client(node).containers.run(
            TEST_IMAGE, [*probe, url], entrypoint=[], detach=True
        )
        try:
            prober.wait(timeout=30)
            return str(prober.logs(stdout=True, stderr=False).decode())
        finally:
            prober.remove(force=True)

    assert outside(metadata) != "000"  # (what answers there is this machine's network's)
    assert outside(other_node) == "200"


async def test_a_drained_or_dead_node_keeps_its_workspace_waiting_with_its_data(
    api: Api, swarm: Cluster, swarm_manager: Manager
) -> None:
    with full(swarm, "node1", "node2"):
        workspace = await api.create_running(display_name="on3")
    node, container = task_of(swarm, swarm_manager.instance, workspace["id"])
    assert node == "node3"
    assert container.exec_run(["sh", "-c", "echo kept > /workspace/data.txt"])[0] == 0
    await api.action(workspace["id"], "stop")

    with drained(swarm, "node3"):
        await api.action(workspace["id"], "start")
        waiting = await eventually(api, workspace["id"], lambda w: "drained" in w["status_message"])
        assert waiting["status"] == "pending"
        assert "Its data is on node node3, which is drained" in waiting["status_message"]
    await eventually(api, workspace["id"], lambda w: w["status"] == "running", timeout=120)

    swarm.kill("node3")
    try:
        down = await eventually(
            api, workspace["id"], lambda w: "which is down" in w["status_message"], timeout=120
        )
        assert down["status"] == "pending"
    finally:
        swarm.revive("node3")
    back = await eventually(api, workspace["id"], lambda w: w["status"] == "running", timeout=180)
    assert back["status_message"] == "Running on node node3."
    _, container = task_of(swarm, swarm_manager.instance, workspace["id"])
    assert container.exec_run(["cat", "/workspace/data.txt"]).output == b"kept\n"


async def test_delete_removes_the_data_on_its_node_or_keeps_it(
    api: Api, swarm: Cluster, swarm_manager: Manager
) -> None:
    kept = await api.create_running(display_name="kept")
    gone = await api.create_running(display_name="gone")
    nodes = {w["id"]: task_of(swarm, swarm_manager.instance, w["id"])[0] for w in (kept, gone)}

    def volumes(workspace_id: str) -> list[dict[str, Any]]:
        client = swarm.client(nodes[workspace_id])
        labels = [f"lwm.instance={swarm_manager.instance}", f"lwm.workspace={workspace_id}"]
        return list(client.api.volumes(filters={"label": labels})["Volumes"] or [])

    assert (await api.client.delete(api.path(kept["id"]))).status_code == 204
    assert len(volumes(kept["id"])) == 1
    listed = (await api.client.get(api.user_path("kept-volumes"))).json()
    assert isinstance(listed, list), listed
    assert kept["id"] in [v["workspace_id"] for v in listed]
    response = await api.client.delete(api.path(gone["id"]), params={"delete_volumes": "true"})
    assert response.status_code == 204
    assert volumes(gone["id"]) == []
    assert not swarm.client().api.services(
        filters={"label": [f"lwm.instance={swarm_manager.instance}", f"lwm.workspace={gone['id']}"]}
    )


async def test_progress_events_tell_the_node_and_end_ready(api: Api) -> None:
    workspace = await api.create(display_name="told")
    response = await api.client.get(api.path(workspace["id"]) + "/events", params={"timeout": 60})
    phases = [
        json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
    ]
    assert phases[-1]["phase"] == "ready", phases
    assert any("on node node" in p["message"] for p in phases)
