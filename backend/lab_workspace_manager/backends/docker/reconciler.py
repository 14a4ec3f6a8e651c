"""Tidying up the engine: what interrupted changes left behind.

Containers without a record (an interrupted delete), record revisions and "-next" containers
an interrupted change left, finished cleaners, and networks of owners with no workspace left.
Volumes are never removed here: one without a record is data its user chose to keep when
deleting the workspace. A record without a container or volume (an interrupted create) stays a
workspace its user sees and can start or delete, except for creates this process told their
caller had failed (see `finish_rollback`). Containers created to run but never started are
started.
"""

from __future__ import annotations

import logging

import docker
import docker.errors

from ...settings import Settings
from . import labels as L
from .engine import remove_container
from .found import leftovers, never_started
from .lifecycle import Lifecycle
from .networks import UserNetworks
from .observer import Observer
from .pending import PendingCreates

log = logging.getLogger(__name__)


class Reconciler:
    def __init__(
        self,
        client: docker.DockerClient,
        settings: Settings,
        observer: Observer,
        lifecycle: Lifecycle,
        networks: UserNetworks,
        pending: PendingCreates,
    ) -> None:
        self.client = client
        self.settings = settings
        self.observer = observer
        self.lifecycle = lifecycle
        self.networks = networks
        self.pending = pending

    def untidy(self) -> tuple[list[str], list[tuple[str, str]]]:
        """Removes the leftovers that belong to no workspace; the names removed, and the
        (owner, workspace id)s with leftovers or an interrupted start, to tidy one by one
        (each in its turn, after any change of it under way)."""
        removed: list[str] = []
        untidy: list[tuple[str, str]] = []
        for workspace_id, found in self.observer.scan(None, None).items():
            if not workspace_id:  # (a cleaner of before cleaners were labelled so)
                for summary in leftovers(found):
                    remove_container(self.client, summary["Id"])
                    removed.append(summary["Names"][0].lstrip("/"))
            elif leftovers(found) or never_started(found):
                owner = found.everything[0]["Labels"].get(L.OWNER, "")
                untidy.append((owner, workspace_id))
        return removed, untidy

    def tidy(self, owner: str, workspace_id: str) -> list[str]:
        """Remove what of the workspace no record accounts for; start it if it was created
        to run but never started (a create or start cut short by a manager or engine
        restart, which would otherwise read "Starting" forever)."""
        removed: list[str] = []
        found = self.observer.scan(None, workspace_id).get(workspace_id)
        if found is None:
            return removed
        for summary in leftovers(found):
            remove_container(self.client, summary["Id"])
            removed.append(summary["Names"][0].lstrip("/"))
        if never_started(found):
            assert found.container is not None
            try:
                self.client.api.start(found.container["Id"])
                log.info("started workspace %s, whose start was interrupted", workspace_id)
            except docker.errors.APIError as exc:
                log.warning("could not start workspace %s: %s", workspace_id, exc)
        return removed

    def collect_networks(self) -> list[str]:
        removed = []
        mine = L.selector(self.settings.instance_id, L.KIND_NETWORK)
        for network in self.client.api.networks(filters={"label": mine}):
            if self.networks.collect(network["Labels"].get(L.OWNER, "")):
                removed.append(network["Name"])
        return removed

    def finish_rollback(self, owner: str, workspace_id: str) -> list[str]:
        """Undo a create whose rollback failed, unless its user has acted on it since (a
        newer record, a delete) or it runs: then it stays, as a workspace (or kept data).
        The volume goes too: its container never ran, so it holds nothing of the user's."""
        found = self.observer.scan(owner, workspace_id).get(workspace_id)
        # Gone altogether (deleted since, its data perhaps kept on purpose), or used:
        # nothing to undo, and its volume is the user's.
        untouched = found is not None and (
            not found.records
            or (
                found.revision() == 1
                and (found.container is None or found.container["State"] == "created")
            )
        )
        self.pending.rolled_back(workspace_id)
        if not untouched:
            return []
        self.lifecycle.remove_containers(owner, workspace_id)
        self.lifecycle.remove_volume(owner, workspace_id)
        self.networks.collect(owner)
        return [workspace_id]
