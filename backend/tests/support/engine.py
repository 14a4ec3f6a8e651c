"""Helpers on the real Docker engine: what the session owns there, and removing it."""

from __future__ import annotations

import re
import subprocess

import docker

from lab_workspace_manager.backends.docker import labels as L
from tests.support.settings import SESSION_INSTANCE


def remove_everything(client: docker.DockerClient, instance: str) -> None:
    mine = {"label": f"{L.INSTANCE}={instance}"}
    for container in client.containers.list(all=True, filters=mine):
        container.remove(force=True)
    for volume in client.volumes.list(filters=mine):
        volume.remove(force=True)
    for network in client.networks.list(filters=mine):
        network.remove()


def owned(
    client: docker.DockerClient, instance: str = SESSION_INSTANCE, **labels: str
) -> dict[str, list[str]]:
    """Names of everything on the engine that carries the instance label (and `labels`)."""
    wanted = [f"{L.INSTANCE}={instance}", *(f"lwm.{k}={v}" for k, v in labels.items())]
    filters = {"label": wanted}
    return {
        "containers": sorted(c.name for c in client.containers.list(all=True, filters=filters)),
        "volumes": sorted(v.name for v in client.volumes.list(filters=filters)),
        "networks": sorted(n.name for n in client.networks.list(filters=filters)),
    }


def bridge_gateway(engine: docker.DockerClient) -> str:
    """The host's address on Docker's default bridge, where the manager's container starts.

    Read from the bridge's interface on this host: a freshly started engine's `bridge` network
    names a Subnet but no Gateway in its IPAM config (Debian's docker.io 20.10); only an engine
    that has been restarted on the same data root fills it in."""
    options = engine.networks.get("bridge").attrs.get("Options") or {}
    interface = options.get("com.docker.network.bridge.name", "docker0")
    shown = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "dev", interface],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", shown)
    assert found, f"the bridge interface {interface} has no IPv4 address: {shown!r}"
    return found.group(1)
