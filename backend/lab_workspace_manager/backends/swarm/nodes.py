"""The engines of single nodes: where a workspace's data is, and what it uses.

The swarm's API (on a manager node) runs services; a volume, a container's stats and its
disk use are each one node's own. `SWARM_NODE_DOCKER_HOST` says how the manager reaches a
node's engine: a template with {hostname} and {address}. A tcp:// engine is only reached with
TLS (SWARM_NODE_TLS_DIR): an engine's API is root on its node.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from pathlib import Path

import docker
import docker.tls

from ...errors import Conflict
from ...settings import Settings
from ..docker.engine import make_client
from .tasks import Node

HOSTNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}")


class NodeEngines:
    def __init__(self, settings: Settings) -> None:
        self._template = settings.swarm_node_docker_host
        self._tls_dir = settings.swarm_node_tls_dir
        self._clients: dict[str, docker.DockerClient] = {}
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self._template)

    def client(self, node: Node) -> docker.DockerClient:
        """The engine of `node`; `Conflict` saying why when the manager cannot reach it."""
        if not self._template:
            raise Conflict(
                f"this manager does not reach the engine of node {node.hostname} "
                "(an administrator sets SWARM_NODE_DOCKER_HOST for that)."
            )
        if node.state != "ready":
            raise Conflict(f"node {node.hostname} is {node.why_not()}; try again once it is back.")
        url = self._url(node)
        with self._lock:
            client = self._clients.get(url)
            if client is None:
                client = self._clients[url] = self._make(url)
            return client

    def _url(self, node: Node) -> str:
        """The template filled with what the swarm says of the node, which must look like a
        host name and an IP address (a node's operator chooses its host name)."""
        assert self._template
        if not HOSTNAME.fullmatch(node.hostname):
            raise Conflict(f"node {node.id[:12]} has a host name the manager does not use.")
        try:
            address = str(ipaddress.ip_address(node.address)) if node.address else ""
        except ValueError:
            raise Conflict(f"node {node.hostname} has no usable address.") from None
        try:
            return self._template.format(hostname=node.hostname, address=address).strip()
        except (KeyError, IndexError, ValueError):
            raise Conflict(
                "SWARM_NODE_DOCKER_HOST may only use {hostname} and {address}."
            ) from None

    def _make(self, url: str) -> docker.DockerClient:
        if url.startswith("unix://"):
            return make_client(url, timeout=30)
        # Anything else is TCP (docker-py reads "http://", "tcp://" and no scheme alike).
        if self._tls_dir is None:
            raise Conflict(
                "a node's engine on TCP is only reached with TLS (an administrator sets "
                "SWARM_NODE_TLS_DIR with ca.pem, cert.pem and key.pem)."
            )
        url = "tcp://" + url.split("://", 1)[-1]
        folder = Path(self._tls_dir)
        tls = docker.tls.TLSConfig(
            client_cert=(str(folder / "cert.pem"), str(folder / "key.pem")),
            ca_cert=str(folder / "ca.pem"),
            verify=True,
        )
        return docker.DockerClient(
            base_url=url.replace("tcp://", "https://"), version="1.41", timeout=30, tls=tls
        )

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
