"""Time to ready on a Docker Swarm: the manager against a raw `docker service create`.

The cluster is the tests' (`tests/support/swarm_cluster.py`: three nodes, each an engine in
a container of the main engine). The manager is its image on node1 with the Swarm backend;
its side POSTs a workspace and probes it through the manager's proxy (node1's port, then the
user's overlay network to whichever node runs it). The raw side creates a service of the
same image with the same reservations, limits, mounts and an overlay network, publishing
port 8080 on the node that runs its task (mode "host": this kernel has no IPVS, so Swarm's
routing mesh cannot work here), and probes it there. Both probe Jupyter's `<base URL>api`
every 20 ms. A burst creates 20 at once on each side: the swarm spreads them over the nodes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import docker

from lab_workspace_manager.backends.docker import labels as L
from tests.support.images import TEST_IMAGE
from tests.support.manager_image import IMAGE, start_manager
from tests.support.settings import SESSION_INSTANCE
from tests.support.swarm_cluster import NODE_NAMES, SOCKET_DIR, Cluster, pull_as, running_cluster

from .context import CPUS, MEMORY_MB, PIDS_LIMIT, SHM_MB, Bench
from .engine import Target
from .tools import wait_answers

MIB = 1024 * 1024
USER = "bench-swarm"
RAW_NETWORK = "lwmbench-raw-overlay"
FIRST_PORT = 31000
# A burst's workspaces are smaller: 20 of them fit the three nodes' 6 CPUs.
BURST_CPUS = 0.2
BURST_MEMORY_MB = 256


@contextmanager
def swarm_bench(quick: bool) -> Iterator[tuple[Bench, Cluster]]:
    """A cluster, the manager's image on its node1, and a `Bench` on that manager."""
    main = docker.DockerClient(base_url="unix:///var/run/docker.sock", version="1.41")
    with running_cluster(main, [TEST_IMAGE, IMAGE]) as cluster:
        with ThreadPoolExecutor(len(NODE_NAMES)) as pool:
            list(pool.map(lambda node: pull_as(cluster, node, TEST_IMAGE), NODE_NAMES))
        pull_as(cluster, "node1", IMAGE)
        node1 = cluster.client("node1")
        manager = start_manager(
            node1,
            environment={
                "WORKSPACE_BACKEND": "swarm",
                "SWARM_NODE_DOCKER_HOST": cluster.node_socket_template,
                "WORKSPACE_IMAGE_OPTIONS": "[]",
                "WORKSPACE_CPUS_MAX": "2",
            },
            docker_socket=f"{SOCKET_DIR}/docker.sock",
            address=cluster.addresses["node1"],
            mounts=[str(cluster.folder)],
        )
        node1.networks.create(RAW_NETWORK, driver="overlay", attachable=True)
        target = Target(node1, f"{SOCKET_DIR}/docker.sock", RAW_NETWORK, lambda: None)
        try:
            yield Bench(target, manager, manager.url, quick), cluster
        finally:
            manager.container.remove(force=True, v=True)
        main.close()


def raw_service(name: str, port: int, cpus: float, memory: int) -> dict[str, Any]:
    """What the manager asks the swarm for (backends/swarm/spec.py), as plain options."""
    resources = {"NanoCPUs": round(cpus * 1e9), "MemoryBytes": memory * MIB}
    return {
        "name": name,
        "labels": {L.INSTANCE: SESSION_INSTANCE},
        "task_template": {
            "ContainerSpec": {
                "Image": TEST_IMAGE,
                "Env": [f"WORKSPACE_BASE_URL=/workspaces/{name}/", "MAX_NUM_THREADS=1"],
                "Mounts": [
                    {"Type": "volume", "Source": name, "Target": "/workspace"},
                    {
                        "Type": "tmpfs",
                        "Target": "/dev/shm",
                        "TmpfsOptions": {"SizeBytes": SHM_MB * MIB},
                    },
                ],
            },
            "Resources": {"Limits": {**resources, "Pids": PIDS_LIMIT}, "Reservations": resources},
            "RestartPolicy": {"Condition": "on-failure", "MaxAttempts": 3},
            "Networks": [{"Target": RAW_NETWORK}],
            "LogDriver": {"Name": "json-file", "Options": {"max-size": "10m", "max-file": "3"}},
        },
        "mode": {"Replicated": {"Replicas": 1}},
        "endpoint_spec": {
            "Mode": "dnsrr",
            "Ports": [
                {
                    "Protocol": "tcp",
                    "TargetPort": 8080,
                    "PublishedPort": port,
                    "PublishMode": "host",
                }
            ],
        },
    }


def raw_start(
    cluster: Cluster, name: str, port: int, cpus: float = CPUS, memory: int = MEMORY_MB
) -> float:
    """Seconds from `docker service create` to the task answering on its node's port."""
    client = cluster.client("node1")
    started = time.monotonic()
    service = client.api.create_service(**raw_service(name, port, cpus, memory))["ID"]
    node_id = ""
    while not node_id:
        for task in client.api.tasks(filters={"service": service}):
            node_id = task.get("NodeID", "")
        if time.monotonic() - started > 180:
            raise TimeoutError(f"{name} was not placed")
        time.sleep(0.02)
    address = client.api.inspect_node(node_id)["Status"]["Addr"]
    return wait_answers(f"http://{address}:{port}/workspaces/{name}/api") - started


def raw_remove(cluster: Cluster, name: str) -> None:
    client = cluster.client("node1")
    tasks = client.api.tasks(filters={"service": name})
    client.api.remove_service(name)
    for task in tasks:
        node = cluster.hostname_of(task["NodeID"]) if task.get("NodeID") else None
        if node is None:
            continue
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                cluster.client(node).api.remove_volume(name)
                break
            except docker.errors.NotFound:
                break
            except docker.errors.APIError:
                time.sleep(0.2)  # its container is still going


def manager_start(
    bench: Bench, name: str, cpus: float = CPUS, memory: int = MEMORY_MB
) -> tuple[float, str]:
    with bench.client(USER) as client:
        started = time.monotonic()
        compute = {"cpus": cpus, "memory": memory}
        workspace = bench.create(client, USER, display_name=name, compute=compute)
        url = f"{bench.url}/workspaces/{workspace['id']}/api"
        headers = {**bench.auth(USER), "Host": bench.workspace_host(workspace["id"])}
        return wait_answers(url, headers) - started, str(workspace["id"])


def manager_remove(bench: Bench, workspace_id: str) -> None:
    with bench.client(USER) as client:
        bench.delete(client, USER, workspace_id)


def time_to_ready(bench: Bench, cluster: Cluster, repetitions: int) -> dict[str, list[float]]:
    """Interleaved, alternating which side goes first."""
    times: dict[str, list[float]] = {"manager": [], "raw": []}
    with bench.client(USER) as client:  # the user's network exists, as the raw side's does
        anchor = bench.create(client, USER, display_name="anchor", is_stopped=True)["id"]

    def manager() -> None:
        ready, workspace_id = manager_start(bench, "ready-" + secrets.token_hex(3))
        times["manager"].append(ready)
        manager_remove(bench, workspace_id)

    def raw() -> None:
        name = f"lwmbench-raw-{secrets.token_hex(3)}"
        try:
            times["raw"].append(raw_start(cluster, name, FIRST_PORT))
        finally:
            raw_remove(cluster, name)

    for round_ in range(repetitions):
        for kind in (manager, raw) if round_ % 2 == 0 else (raw, manager):
            kind()
            time.sleep(0.5)
    manager_remove(bench, anchor)
    return times


def burst(bench: Bench, cluster: Cluster, count: int) -> dict[str, Any]:
    """`count` at once on each side; seconds until the last answers, and where they ran."""
    result: dict[str, Any] = {}
    with ThreadPoolExecutor(count) as pool:
        started = time.monotonic()
        made = list(
            pool.map(
                lambda i: manager_start(bench, f"burst-{i}", BURST_CPUS, BURST_MEMORY_MB),
                range(count),
            )
        )
        result["manager"] = time.monotonic() - started
        result["spread"] = _spread(cluster, bench.manager.instance)
        list(pool.map(lambda m: manager_remove(bench, m[1]), made))
        time.sleep(2)
        names = [f"lwmbench-burst-{secrets.token_hex(3)}" for _ in range(count)]
        started = time.monotonic()
        list(
            pool.map(
                lambda n: raw_start(
                    cluster, n[1], FIRST_PORT + 1 + n[0], BURST_CPUS, BURST_MEMORY_MB
                ),
                enumerate(names),
            )
        )
        result["raw"] = time.monotonic() - started
        list(pool.map(lambda name: raw_remove(cluster, name), names))
    return result


def _spread(cluster: Cluster, instance: str) -> dict[str, int]:
    """How many of the manager's workspaces run on each node."""
    client = cluster.client("node1")
    counts = dict.fromkeys(NODE_NAMES, 0)
    services = client.api.services(filters={"label": f"{L.INSTANCE}={instance}"})
    if services:
        for task in client.api.tasks(filters={"service": [s["ID"] for s in services]}):
            if task["Status"]["State"] == "running":
                counts[cluster.hostname_of(task["NodeID"])] += 1
    return counts
