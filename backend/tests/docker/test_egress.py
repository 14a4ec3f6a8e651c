"""Workspaces cannot reach link-local addresses (a cloud's metadata service) or the Docker
host's own services (issue 13), while containers on other networks still can: real engine,
real iptables rules, a real listener on the host and one behind a link-local address."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import docker
import pytest

from lab_workspace_manager.backends.docker import egress
from tests.support.apiclient import Api
from tests.support.engine import bridge_gateway
from tests.support.images import TEST_IMAGE

from .test_engine import container_of

pytestmark = pytest.mark.anyio

METADATA = "169.254.169.254"
PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).recv(16)
    print("reached")
except OSError as exc:
    print("blocked", exc)
"""


@contextmanager
def listener(address: str) -> Iterator[int]:
    """A TCP server on this host that answers "hello"; its port."""
    server = socket.create_server((address, 0))
    server.settimeout(0.5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


@contextmanager
def metadata_service() -> Iterator[int]:
    """169.254.169.254 one hop away from this host, as a cloud's metadata service is: in a
    network namespace behind a veth pair, so traffic to it is forwarded, not delivered here."""

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    ip("netns", "add", "lwm-meta")
    try:
        ip("link", "add", "lwm-meta-h", "type", "veth", "peer", "name", "lwm-meta-n")
        ip("link", "set", "lwm-meta-n", "netns", "lwm-meta")
        ip("addr", "add", "169.254.1.1/16", "dev", "lwm-meta-h")
        ip("link", "set", "lwm-meta-h", "up")
        ip("-n", "lwm-meta", "addr", "add", f"{METADATA}/16", "dev", "lwm-meta-n")
        ip("-n", "lwm-meta", "link", "set", "lwm-meta-n", "up")
        ip("-n", "lwm-meta", "route", "add", "default", "via", "169.254.1.1")
        server = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                "lwm-meta",
                "python3",
                "-c",
                "import socket\n"
                f"s = socket.create_server(('{METADATA}', 80))\n"
                "while True:\n"
                "    c, _ = s.accept(); c.sendall(b'secret'); c.close()\n",
            ],
        )
        try:
            yield 80
        finally:
            server.kill()
            server.wait()
    finally:
        subprocess.run(["ip", "link", "del", "lwm-meta-h"], capture_output=True)
        subprocess.run(["ip", "netns", "del", "lwm-meta"], capture_output=True)


def probe_from_workspace(
    engine: docker.DockerClient, api: Api, workspace_id: str, address: str, port: int
) -> str:
    container = container_of(engine, api, workspace_id)
    result = container.exec_run(["python3", "-c", PROBE, address, str(port)])
    return result.output.decode()


def probe_from_elsewhere(engine: docker.DockerClient, address: str, port: int) -> str:
    """The same from a container on Docker's default bridge (not a workspace network)."""
    output = engine.containers.run(
        TEST_IMAGE,
        entrypoint=["python3", "-c", PROBE, address, str(port)],
        network="bridge",
        remove=True,
    )
    return output.decode()


def gateway_of(engine: docker.DockerClient, api: Api, workspace_id: str) -> str:
    container = container_of(engine, api, workspace_id)
    networks = container.attrs["NetworkSettings"]["Networks"]
    return next(iter(networks.values()))["Gateway"]


async def test_workspaces_cannot_reach_the_host_or_link_local_addresses(
    api: Api, engine: docker.DockerClient
) -> None:
    assert api.backend.egress_blocked == ["metadata", "host"]
    config = (await api.client.get("/config")).json()
    assert config["egress_blocked"] == ["metadata", "host"]
    workspace = await api.create_running(display_name="egress")
    gateway = gateway_of(engine, api, workspace["id"])
    with listener("0.0.0.0") as port:
        # The host's services: not from a workspace, though they listen on every address.
        assert probe_from_workspace(engine, api, workspace["id"], gateway, port).startswith(
            "blocked"
        )
        # From a container on another network, the same service answers: the rule is what
        # stops the workspace.
        assert probe_from_elsewhere(engine, bridge_gateway(engine), port).startswith("reached")
    with metadata_service() as port:
        assert probe_from_elsewhere(engine, METADATA, port).startswith("reached")
        assert probe_from_workspace(engine, api, workspace["id"], METADATA, port).startswith(
            "blocked"
        )
    # The manager (on this host) still reaches the workspace, and the workspace answers it.
    assert (await api.backend.locate(workspace["id"])) is not None


def test_the_rules_are_added_once_in_their_order() -> None:
    text = egress.script(["metadata", "host"], ["lwm+", "br-0123456789ab"])
    lines = text.splitlines()
    assert lines[0] == "set -e"
    # Each rule is checked before it is added (a second run adds nothing) ...
    assert all(" -C " in line and " || iptables -I " in line for line in lines[1:])
    # ... and inserted at the head, last first: DNS is accepted before the rest is dropped.
    inserted = [line.split(" || ")[1] for line in lines[1:]]
    for bridge in ("lwm+", "br-0123456789ab"):
        assert [rule for rule in inserted if f" -i {bridge} " in rule] == [
            f"iptables -I DOCKER-USER 1 -i {bridge} -d 100.100.100.200/32 -j DROP",
            f"iptables -I DOCKER-USER 1 -i {bridge} -d 169.254.0.0/16 -j DROP",
            f"iptables -I INPUT 1 -i {bridge} -m conntrack --ctstate NEW,INVALID -j DROP",
            f"iptables -I INPUT 1 -i {bridge} -p tcp --dport 53 -j ACCEPT",
            f"iptables -I INPUT 1 -i {bridge} -p udp --dport 53 -j ACCEPT",
        ]
    assert egress.script([], ["lwm+"]) == "set -e\n"


def test_other_hosts_and_the_database_are_dropped_with_host() -> None:
    """On a swarm, "host" is every node; with DATABASE_URL, the database's host too (it holds
    the installation's secrets)."""
    text = egress.script(["host"], ["docker_gwbridge"], ["10.0.0.2", "10.0.0.3"])
    for host in ("10.0.0.2", "10.0.0.3"):
        assert (
            f"iptables -I DOCKER-USER 1 -i docker_gwbridge -d {host} -m conntrack --ctstate NEW "
            "-j DROP"
        ) in text
    assert "10.0.0.2" not in egress.script(["metadata"], ["lwm+"], ["10.0.0.2"])
    from tests.support.settings import make_settings

    with_database = make_settings(database_url="postgresql://u:p@127.0.0.1:5432/db")
    assert egress.database_addresses(with_database) == []  # (loopback: no workspace reaches it)
    remote = make_settings(database_url="postgresql://u:p@10.9.8.7:5432,localhost:5433/db")
    assert egress.database_addresses(remote) == ["10.9.8.7"]
    assert egress.database_addresses(make_settings()) == []


async def test_networks_made_before_their_bridges_were_named_are_covered_too(
    engine: docker.DockerClient,
) -> None:
    from tests.support.settings import make_settings

    settings = make_settings(workspace_backend="docker")
    labels = {"lwm.instance": settings.instance_id, "lwm.kind": "network", "lwm.owner": "old"}
    old = engine.networks.create(f"{settings.instance_id}-net-old-style", labels=labels)
    try:
        assert egress.older_bridges(engine, settings) == ["br-" + old.id[:12]]
    finally:
        old.remove()


def test_a_missing_helper_image_is_said_and_not_pulled(
    engine: docker.DockerClient, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.support.settings import make_settings

    settings = make_settings(workspace_backend="docker", egress_helper_image="lwm-no-such:1")
    assert egress.install(engine, settings) == []
    assert "the helper image lwm-no-such:1 is not on this engine" in caplog.text
