"""The manager's own container on the users' overlay networks: its proxy and its readiness
probes reach every workspace, on any node, whichever manager made it.

The manager's container is a plain container (not a swarm task: the engine does not attach a
task's container to a network on demand, moby#39391; that is why the replicas of
`docker/stack.yml` are supervisors that run the manager as a plain container, see
`replica.py`), so it joins an attachable overlay with `docker network connect`.
"""

from __future__ import annotations

import logging
import time

import docker
import docker.errors

from ...settings import Settings

log = logging.getLogger(__name__)

JOIN_WAIT = 10.0  # a network made a moment ago may not be known to the dispatcher yet


class Attachments:
    """Which user networks the manager's container is on (by id), and joining or leaving
    them. Without a container of its own (a manager run from source) it joins nothing."""

    def __init__(self, client: docker.DockerClient, settings: Settings) -> None:
        self._client = client
        self._manager = settings.manager_container
        self._joined: dict[str, str] = {}  # network id -> name

    def join(self, network: str, network_id: str, wait: float = JOIN_WAIT) -> None:
        """Join the network named `network` by its id (a node may still hold a removed
        network of the same name)."""
        if not self._manager:
            return
        self._connect(self._manager, network_id, wait)
        self._joined[network_id] = network

    def join_soon(self, network: str, network_id: str) -> None:
        """Join a network a workspace runs on, if not joined yet (one another manager made).
        Tried once (a read must not wait); a network the dispatcher does not know yet is
        joined at a later read."""
        if network_id in self._joined or not self._manager:
            return
        try:
            self.join(network, network_id, wait=0)
        except docker.errors.APIError as exc:
            log.info("network %s not joined yet: %s", network, exc.explanation)

    def leave(self, network: str) -> None:
        """Leave a network (by name) about to be removed."""
        for network_id in [i for i, name in self._joined.items() if name == network]:
            del self._joined[network_id]
        if self._manager:
            try:
                self._client.api.disconnect_container_from_network(
                    self._manager, network, force=True
                )
            except docker.errors.APIError as exc:
                log.debug("leaving %s: %s", network, exc.explanation)

    def _connect(self, container: str, network: str, wait: float) -> None:
        deadline = time.monotonic() + wait
        while True:
            try:
                self._client.api.connect_container_to_network(container, network)
                return
            except docker.errors.APIError as exc:
                explanation = str(exc.explanation)
                # "already exists" (a bridge), "is already attached" (an overlay)
                if "already" in explanation:
                    return
                if "not found" not in explanation.lower() or time.monotonic() > deadline:
                    raise
                log.info("joining network %s: %s; trying again", network, explanation)
            time.sleep(0.2)
