"""Each user's bridge network: made with their first workspace, removed with their last,
and joined by the manager's own container (its proxy reaches every user's workspaces; the
users' networks stay apart from each other)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import docker
import docker.errors

from ...errors import Conflict, ResourceUnavailable
from ...settings import Settings
from ...shared import SharedState
from . import labels as L
from . import spec as build

log = logging.getLogger(__name__)


class UserNetworks:
    def __init__(
        self, client: docker.DockerClient, settings: Settings, shared: SharedState
    ) -> None:
        self.client = client
        self.settings = settings
        # Per owner: "the network exists" and "a record of theirs exists" change together,
        # in this process and in the other managers sharing DATA_DIR.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._shared = shared

    @contextmanager
    def _lock(self, owner: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault(owner, threading.Lock())
        with lock, self._shared.holding("network", owner):
            yield

    def ensure_for(self, owner: str, write_record: Callable[[], None]) -> None:
        """The owner's network, and then `write_record`, as one step: a concurrent delete of
        the owner's last workspace cannot remove the network in between."""
        with self._lock(owner):
            self.ensure(owner)
            write_record()

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
            # Made meanwhile by a manager that shares no lock with this one (another
            # instance's bridge of the same name is refused as "same bridge name").
            if exc.status_code not in (403, 409) or not self._owned_by(config["name"], owner):
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
        mine = L.selector(self.settings.instance_id, L.KIND_NETWORK)
        for network in self.client.api.networks(filters={"label": mine}):
            self.join(network["Name"])

    def collect(self, owner: str) -> bool:
        """Remove the owner's network once no workspace of theirs is left; True if removed."""
        wanted = L.selector(self.settings.instance_id, L.KIND_RECORD, owner)
        with self._lock(owner):
            if self.client.api.containers(all=True, filters={"label": wanted}):
                return False
            # By its labels: also one named as before user networks got their longer names.
            theirs = L.selector(self.settings.instance_id, L.KIND_NETWORK, owner)
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
