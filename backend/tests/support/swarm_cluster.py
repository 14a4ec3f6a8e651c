"""A real Docker Swarm of three nodes on this machine, for the Swarm backend's tests.

Each node is a container of the main engine running an engine of its own (Debian's docker.io,
in an image built here from Debian packages), on a private network with fixed addresses; all
three are swarm managers (so the cluster keeps working, and the manager's API answers, with
one node killed). A registry (Debian's `docker-registry`, on the host) holds the test images:
the host's engine pushes them to it on loopback, the nodes pull them from the network's
gateway address.

Why not `--privileged`: this machine's root has no CAP_SYS_RESOURCE, and runc refuses to give
a privileged container every capability ("unable to apply caps"). A node gets every other
capability, no seccomp or AppArmor profile, unmasked /proc and /sys, every device and the
host's cgroup tree (each node's engine puts its containers under a cgroup parent of its own).

Each node's engine listens only on a unix socket in a host folder (`socket(node)`): never on
TCP, where every workspace on the node could reach it. The tests' manager reaches the nodes
through these sockets (SWARM_NODE_DOCKER_HOST with {hostname}).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest

from lab_workspace_manager.backends.swarm.backend import SwarmBackend
from lab_workspace_manager.settings import Settings
from tests.support.apiclient import Api, http_sign_up
from tests.support.manager_image import Manager
from tests.support.settings import SESSION_INSTANCE, make_settings

NODE_DOCKERFILE = b"""FROM debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \\
      --no-install-recommends docker.io iptables iproute2 ca-certificates procps > /dev/null \\
    && rm -rf /var/lib/apt/lists/*
VOLUME /var/lib/docker
"""
NODE_IMAGE = "lwm-test-swarm-node:" + hashlib.sha256(NODE_DOCKERFILE).hexdigest()[:12]
NODE_NAMES = ("node1", "node2", "node3")
SOCKET_DIR = "/run/lwm-node"  # in each node; a host folder of the cluster's
# Overlay networks' addresses, inside the nodes: apart from the nodes' own network.
OVERLAY_POOL = "10.232.0.0/16"
START_TIMEOUT = 90.0


@dataclass
class Cluster:
    name: str
    folder: Path
    network: str
    gateway: str  # the host, on the nodes' network
    subnet: str  # the nodes' network
    addresses: dict[str, str]  # node name -> its address
    registry: str  # host:port as the nodes reach it
    registry_local: str  # host:port as the host's engine pushes to it
    containers: dict[str, str] = field(default_factory=dict)  # node name -> container id
    _clients: dict[str, docker.DockerClient] = field(default_factory=dict)

    def socket(self, node: str) -> str:
        return f"unix://{self.folder / node / 'docker.sock'}"

    @property
    def node_socket_template(self) -> str:
        """SWARM_NODE_DOCKER_HOST for a manager on this machine."""
        return f"unix://{self.folder}/{{hostname}}/docker.sock"

    def client(self, node: str = "node1") -> docker.DockerClient:
        if node not in self._clients:
            self._clients[node] = docker.DockerClient(
                base_url=self.socket(node), version="1.41", timeout=120
            )
        return self._clients[node]

    def image(self, local: str) -> str:
        """The name under which the nodes pull the host's image `local`."""
        return f"{self.registry}/{local}"

    def node_id(self, node: str) -> str:
        return str(self.client(node).info()["Swarm"]["NodeID"])

    def hostname_of(self, node_id: str) -> str:
        return str(self.client().api.inspect_node(node_id)["Description"]["Hostname"])

    # --- what tests do to nodes ---------------------------------------------------------------
    def kill(self, node: str) -> None:
        self._clients.pop(node, None)
        _docker(["kill", self.containers[node]])

    def revive(self, node: str) -> None:
        _docker(["start", self.containers[node]])
        _wait_engine(self, node)

    def set_availability(self, node: str, availability: str) -> None:
        client = self.client("node1" if node != "node1" else "node2")
        node_id = self.node_id(node)
        found = client.api.inspect_node(node_id)
        spec = found["Spec"]
        spec["Availability"] = availability
        client.api.update_node(node_id, found["Version"]["Index"], spec)

    def wait_node_state(self, node: str, state: str, timeout: float = 60) -> None:
        observer = "node1" if node != "node1" else "node2"
        deadline = time.monotonic() + timeout
        node_id = self.node_id(node) if state == "ready" else None
        while time.monotonic() < deadline:
            for found in self.client(observer).api.nodes():
                named = found["Description"]["Hostname"] == node or found["ID"] == node_id
                if named and found["Status"]["State"] == state:
                    return
            time.sleep(0.5)
        raise AssertionError(f"node {node} did not become {state} within {timeout} s")


def _docker(arguments: list[str], stdin: bytes | None = None) -> str:
    done = subprocess.run(["docker", *arguments], input=stdin, capture_output=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(arguments)}: {done.stderr.decode()[-2000:]}")
    return done.stdout.decode()


def _node_image(engine: docker.DockerClient) -> None:
    try:
        engine.images.get(NODE_IMAGE)
    except docker.errors.ImageNotFound:
        engine.images.build(
            fileobj=io.BytesIO(NODE_DOCKERFILE), tag=NODE_IMAGE, rm=True, forcerm=True
        )


def _free_subnet(engine: docker.DockerClient) -> ipaddress.IPv4Network:
    """A /24 of 10.231.0.0/16 that no network of the main engine uses."""
    used = []
    for network in engine.api.networks():
        for config in (network.get("IPAM") or {}).get("Config") or []:
            with contextlib.suppress(KeyError, ValueError):
                used.append(ipaddress.ip_network(config["Subnet"]))
    for candidate in ipaddress.ip_network("10.231.0.0/16").subnets(new_prefix=24):
        if not any(candidate.overlaps(other) for other in used):
            return candidate
    raise RuntimeError("no free /24 in 10.231.0.0/16 for the swarm's nodes")


def _start_registry(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("The Swarm tests need Debian's docker-registry package (.ci/run installs it).")
    from tests.support.manager_image import free_port

    port = free_port()
    config = folder / "registry.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {folder / 'registry'}\n"
        # Every address: the host's engine pushes on loopback, the nodes pull on the gateway.
        f"http:\n  addr: 0.0.0.0:{port}\n"
        "log:\n  level: warn\n"
    )
    log = folder / "registry.log"
    with log.open("wb") as output:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=output, stderr=output)
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/v2/", trust_env=False).status_code == 200:
                return process, port
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the registry did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)


def _start_node(engine: docker.DockerClient, cluster: Cluster, node: str) -> None:
    (cluster.folder / node).mkdir(parents=True, exist_ok=True)
    command = [
        "dockerd",
        f"--host=unix://{SOCKET_DIR}/docker.sock",
        f"--insecure-registry={cluster.registry}",
        # Its containers' cgroups apart from the host engine's and the other nodes'.
        f"--cgroup-parent=/{cluster.name}-{node}",
    ]
    api = engine.api
    host_config = api.create_host_config(
        cap_add=["ALL"],
        cap_drop=["SYS_RESOURCE"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        device_cgroup_rules=["a *:* rwm"],
        binds={
            "/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
            str(cluster.folder / node): {"bind": SOCKET_DIR, "mode": "rw"},
            # Every node's socket, at the host's path: for a manager running on a node.
            str(cluster.folder): {"bind": str(cluster.folder), "mode": "rw"},
        },
        tmpfs={"/run": ""},
        network_mode=cluster.network,
    )
    # `--security-opt systempaths=unconfined` of the command line: /proc/sys writable (the
    # node's engine sets up forwarding and its bridges there), nothing masked.
    host_config["MaskedPaths"] = []
    host_config["ReadonlyPaths"] = []
    # A fixed address: the swarm knows its nodes by address, also after a node restarts.
    endpoint = api.create_endpoint_config(ipv4_address=cluster.addresses[node])
    container = api.create_container(
        NODE_IMAGE,
        command,
        name=f"{cluster.name}-{node}",
        hostname=node,
        host_config=host_config,
        networking_config=api.create_networking_config({cluster.network: endpoint}),
        labels={"lwm.instance": SESSION_INSTANCE, "lwm.test": "swarm-node"},
    )
    cluster.containers[node] = container["Id"]
    api.start(container["Id"])


def _wait_engine(cluster: Cluster, node: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            cluster.client(node).ping()
            return
        except (docker.errors.DockerException, OSError):
            cluster._clients.pop(node, None)
            if time.monotonic() > deadline:
                logs = _docker(["logs", "--tail", "30", cluster.containers[node]])
                raise RuntimeError(f"the engine of {node} did not start:\n{logs}") from None
            time.sleep(0.3)


def _form_swarm(cluster: Cluster) -> None:
    first = cluster.client("node1")
    first.swarm.init(advertise_addr=cluster.addresses["node1"], default_addr_pool=[OVERLAY_POOL])
    token = first.swarm.attrs["JoinTokens"]["Manager"]
    for node in NODE_NAMES[1:]:
        cluster.client(node).swarm.join(
            remote_addrs=[cluster.addresses["node1"]],
            join_token=token,
            advertise_addr=cluster.addresses[node],
        )
    deadline = time.monotonic() + START_TIMEOUT
    while sum(n["Status"]["State"] == "ready" for n in first.api.nodes()) < len(NODE_NAMES):
        if time.monotonic() > deadline:
            raise RuntimeError("the swarm's nodes did not all become ready")
        time.sleep(0.3)


def push(engine: docker.DockerClient, cluster: Cluster, local: str) -> str:
    """Put the host's image `local` in the cluster's registry; its name there."""
    pushed = f"{cluster.registry_local}/{local}"
    engine.images.get(local).tag(pushed)
    for line in engine.api.push(pushed, stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"pushing {local}: {line['error']}")
    engine.images.remove(pushed)
    return cluster.image(local)


def pull_as(cluster: Cluster, node: str, local: str) -> None:
    """Make the node's engine have the image under its host name too (`local`)."""
    client = cluster.client(node)
    remote = cluster.image(local)
    client.images.pull(remote)
    repository, tag = local.rsplit(":", 1)
    client.images.get(remote).tag(repository, tag)


@contextlib.contextmanager
def running_cluster(engine: docker.DockerClient, images: list[str]) -> Iterator[Cluster]:
    """Three nodes in one swarm, with `images` in its registry."""
    _node_image(engine)
    name = f"{SESSION_INSTANCE[:8]}-sw{secrets.token_hex(2)}"
    folder = Path(tempfile.mkdtemp(prefix="lwm-swarm-", dir="/run"))
    folder.chmod(0o755)  # the manager's image reaches the sockets as its own user
    subnet = _free_subnet(engine)
    hosts = list(subnet.hosts())
    gateway = str(hosts[0])
    engine.networks.create(
        name,
        driver="bridge",
        ipam=docker.types.IPAMConfig(
            pool_configs=[docker.types.IPAMPool(subnet=str(subnet), gateway=gateway)]
        ),
        labels={"lwm.instance": SESSION_INSTANCE},
    )
    registry, port = _start_registry(folder)
    cluster = Cluster(
        name=name,
        folder=folder,
        network=name,
        gateway=gateway,
        subnet=str(subnet),
        addresses={node: str(hosts[i + 1]) for i, node in enumerate(NODE_NAMES)},
        registry=f"{gateway}:{port}",
        registry_local=f"127.0.0.1:{port}",
    )
    try:
        for node in NODE_NAMES:
            _start_node(engine, cluster, node)
        for node in NODE_NAMES:
            _wait_engine(cluster, node)
        _form_swarm(cluster)
        for image in images:
            push(engine, cluster, image)
        yield cluster
    finally:
        for client in cluster._clients.values():
            client.close()
        for container in cluster.containers.values():
            with contextlib.suppress(docker.errors.APIError):
                engine.api.remove_container(container, force=True, v=True)
        with contextlib.suppress(docker.errors.APIError):
            engine.networks.get(name).remove()
        registry.terminate()
        registry.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
        _remove_cgroups(name)


def _remove_cgroups(name: str) -> None:
    """The nodes' engines' cgroup parents, left empty in the host's tree."""
    for controller in Path("/sys/fs/cgroup").iterdir():
        for leftover in sorted(controller.glob(f"{name}-*/**/"), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                leftover.rmdir()


def task_of(cluster: Cluster, instance: str, workspace_id: str) -> tuple[str, Any]:
    """(node name, container) of the workspace's running task."""
    client = cluster.client("node1")
    labels = [f"lwm.instance={instance}", f"lwm.workspace={workspace_id}"]
    service = client.api.services(filters={"label": labels})[0]
    for task in client.api.tasks(filters={"service": service["ID"]}):
        if task["Status"]["State"] == "running" and task["DesiredState"] == "running":
            node = cluster.hostname_of(task["NodeID"])
            container_id = task["Status"]["ContainerStatus"]["ContainerID"]
            return node, cluster.client(node).containers.get(container_id)
    raise AssertionError(f"workspace {workspace_id} has no running task")


# The settings a swarm test manager has (beyond make_settings' own values).
SWARM_SETTINGS = (
    "workspace_image_default",
    "workspace_image_default_display_name",
    "workspace_image_options",
    "workspace_image_pull",
    "cpus_default",
    "cpus_max",
    "memory_default",
    "memory_min",
    "memory_max",
    "volume_size_default",
    "volume_size_max",
    "workspace_ready_timeout",
    "workspace_backend",
    "swarm_node_docker_host",
)


def swarm_settings(cluster: Cluster, instance: str, **overrides: object) -> Settings:
    """Settings of a manager of the test swarm (in this process: node1's engine)."""
    return make_settings(
        workspace_backend="swarm",
        instance_id=instance,
        docker_host=cluster.socket("node1"),
        swarm_node_docker_host=cluster.node_socket_template,
        **overrides,
    )


@contextlib.asynccontextmanager
async def swarm_api(cluster: Cluster, manager: Manager) -> AsyncIterator[Api]:
    """A signed-in user of `manager` (its image on the swarm) over HTTP; `api.backend` reads
    the same swarm from this process. What the test created is deleted afterwards."""
    settings = swarm_settings(cluster, manager.instance)
    backend = SwarmBackend(settings)
    sign_up = http_sign_up(manager.url, manager.admin_token)
    helper = Api(None, backend, settings, sign_up=sign_up, url=manager.url)
    try:
        yield helper
    finally:
        await helper.delete_all()
        await helper.aclose()
        await backend.close()
