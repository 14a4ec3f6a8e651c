"""The engine the benchmarks run on, with the images it needs and a network for the manager
and the raw containers.

1,000 workspaces of 100 users need 100 user networks, more than Docker's default address
pools give (about 30), so the full run needs an engine started with a wider pool, e.g.
`--default-address-pool base=10.200.0.0/14,size=24`: a private engine, never the shared one.
"""

from __future__ import annotations

import contextlib
import ipaddress
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import docker
import docker.errors

from lab_workspace_manager.backends.docker import labels as L
from tests.support.images import ATTACKER_IMAGE, TEST_IMAGE
from tests.support.manager_image import IMAGE
from tests.support.settings import SESSION_INSTANCE

MAIN_SOCKET = "/var/run/docker.sock"
IMAGES = (IMAGE, TEST_IMAGE, ATTACKER_IMAGE)


@dataclass
class Target:
    client: docker.DockerClient
    socket: str  # the socket's path on the host (mounted into the manager)
    network: str  # where the manager and the raw containers run
    close: Callable[[], None]


def open_target(socket: str) -> Target:
    client = docker.DockerClient(base_url=f"unix://{socket}", version="1.41", timeout=300)
    client.ping()
    if socket != MAIN_SOCKET:
        copy_images(client, socket)
    network = client.networks.create(
        f"lwmbench-{SESSION_INSTANCE}", driver="bridge", labels={L.INSTANCE: SESSION_INSTANCE}
    )
    if socket == MAIN_SOCKET:
        return Target(client, socket, network.name, client.close)
    subnet = network.attrs["IPAM"]["Config"][0]["Subnet"]
    undo = allow_forwarding(subnet)

    def close() -> None:
        undo()
        client.close()

    return Target(client, socket, network.name, close)


def allow_forwarding(subnet: str) -> Callable[[], None]:
    """Let the engine's containers reach each other (the manager's proxy its workspaces).

    A private engine runs with `--iptables=false` (its own rules would replace the main
    engine's), but the host's FORWARD policy is DROP and bridged traffic passes iptables: one
    rule accepts traffic inside the engine's address pool (the /16 its networks come from),
    removed again at the end. Returns the function that removes it.
    """
    pool = str(ipaddress.ip_network(subnet).supernet(new_prefix=16))
    rule = ["FORWARD", "-s", pool, "-d", pool, "-j", "ACCEPT"]
    if subprocess.run(["iptables", "-C", *rule], capture_output=True).returncode == 0:
        return lambda: None  # someone else's rule: theirs to remove
    subprocess.run(["iptables", "-I", *rule], check=True)

    def remove() -> None:
        subprocess.run(["iptables", "-D", *rule], check=False)

    return remove


def _image_id(client: docker.DockerClient, tag: str) -> str | None:
    try:
        return str(client.images.get(tag).id)
    except docker.errors.ImageNotFound:
        return None


def copy_images(client: docker.DockerClient, socket: str) -> None:
    """The images of the main engine that the target lacks (or has older): docker save | load."""
    main = docker.DockerClient(base_url=f"unix://{MAIN_SOCKET}", version="1.41")
    try:
        missing = [tag for tag in IMAGES if _image_id(client, tag) != _image_id(main, tag)]
    finally:
        main.close()
    if not missing:
        return
    print(f"copying {', '.join(missing)} to the engine at {socket}", flush=True)
    save = subprocess.Popen(
        ["docker", "-H", f"unix://{MAIN_SOCKET}", "save", *missing], stdout=subprocess.PIPE
    )
    subprocess.run(
        ["docker", "-H", f"unix://{socket}", "load", "-q"],
        stdin=save.stdout,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    if save.wait() != 0:
        raise RuntimeError("docker save failed")


def remove_labelled(client: docker.DockerClient, instance: str, threads: int = 8) -> int:
    """Everything carrying `lwm.instance=instance`, removed several at a time (thousands of
    workspaces one by one take minutes); how many objects were removed."""
    mine = {"label": f"{L.INSTANCE}={instance}"}
    api = client.api

    def each(function: Callable[[str], object], ids: list[str]) -> None:
        def quietly(object_id: str) -> None:
            with contextlib.suppress(docker.errors.NotFound):
                function(object_id)

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(quietly, ids))

    containers = [c["Id"] for c in api.containers(all=True, filters=mine)]
    each(lambda i: api.remove_container(i, force=True, v=True), containers)
    volumes = [v["Name"] for v in api.volumes(filters=mine).get("Volumes") or []]
    each(lambda name: api.remove_volume(name, force=True), volumes)
    networks = [n["Id"] for n in api.networks(filters=mine)]
    each(api.remove_network, networks)
    return len(containers) + len(volumes) + len(networks)
