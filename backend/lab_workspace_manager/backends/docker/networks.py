"""Each user's bridge network: made with their first workspace, removed with their last,
and joined by the manager's own container (its proxy reaches every user's workspaces; the
users' networks stay apart from each other)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import suppress

import docker
import docker.errors

from ...errors import Conflict, ResourceUnavailable
from ...settings import Settings
from . import labels as L
from . import spec as build

log = logging.getLogger(__name__)


class UserNetworks:
    def __init__(
        self,
        client: docker.DockerClient,
        settings: Settings,
        lock: Callable[[str], threading.Lock],
    ) -> None:
        self.client = client
        self.settings = settings
        # The backend's named locks: "owner:<id>" also guards its workspaces' records.
        self._lock = lock

    def ensure(self, owner: str) -> None:
        config = build.network_config(self.settings, owner)
        if self._owned_by(config["name"], owner):
            return
        try:
            self.client.networks.create(**config)
        except docker.errors.APIError as exc:
            if "address pool" in str(exc.explanation):
                raise ResourceUnavailable(
                    "The Docker engine has no free address range for another user network. "
                    "An administrator can widen it with dockerd's 'default-address-pools'."
                ) from exc
            if exc.status_code != 409 or not self._owned_by(config["name"], owner):
                raise
        self.join(config["name"])

    def _owned_by(self, name: str, owner: str) -> bool:
        """Whether the network `name` exists (False if not). The name is derived from the
        user id; the labels say whose it really is: one made by anyone else is never joined."""
        try:
            found = self.client.api.inspect_network(name)
        except docker.errors.NotFound:
            return False
        labels = found.get("Labels") or {}
        if labels.get(L.INSTANCE) != self.settings.instance_id or labels.get(L.OWNER) != owner:
            raise Conflict(
                f"The Docker network {name} is not this user's (its labels say otherwise), so "
                "no workspace joins it. An administrator must remove or rename it."
            )
        return True

    def join(self, network: str) -> None:
        """Connect the manager's own container to a user network, so its proxy reaches
        that user's workspaces (and only the manager: users' networks stay apart)."""
        manager = self.settings.manager_container
        if not manager:
            return
        try:
            self.client.api.connect_container_to_network(manager, network)
        except docker.errors.APIError as exc:
            if "already exists" not in str(exc.explanation):
                raise

    def join_all(self) -> None:
        mine = {
            "label": [f"{L.INSTANCE}={self.settings.instance_id}", f"{L.KIND}={L.KIND_NETWORK}"]
        }
        for network in self.client.api.networks(filters=mine):
            self.join(network["Name"])

    def collect(self, owner: str) -> bool:
        """Remove the owner's network once no workspace of theirs is left; True if removed."""
        wanted = [
            f"{L.INSTANCE}={self.settings.instance_id}",
            f"{L.OWNER}={owner}",
            f"{L.KIND}={L.KIND_RECORD}",
        ]
        with self._lock("owner:" + owner):
            if self.client.api.containers(all=True, filters={"label": wanted}):
                return False
            # By its labels: also one named as before user networks got their longer names.
            theirs = [
                f"{L.INSTANCE}={self.settings.instance_id}",
                f"{L.OWNER}={owner}",
                f"{L.KIND}={L.KIND_NETWORK}",
            ]
            removed = False
            for network in self.client.api.networks(filters={"label": theirs}):
                removed |= self._remove(network["Name"])
            return removed

    def _remove(self, name: str) -> bool:
        if self.settings.manager_container:
            with suppress(docker.errors.APIError):
                self.client.api.disconnect_container_from_network(
                    self.settings.manager_container, name, force=True
                )
        try:
            self.client.api.remove_network(name)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as exc:
            log.warning("network %s not removed: %s", name, exc.explanation)
            return False
        return True
