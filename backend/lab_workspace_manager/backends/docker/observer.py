"""Reading workspaces off the engine: what there is, and what state each is in.

Reads use the inventory's remembered list (they need not wait for a fresh list of every
container while others change theirs); changes `scan` the engine fresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import docker

from ... import naming
from ...errors import workspace_not_found
from ...models import WorkspaceStatus
from ...settings import Settings
from ..base import KeptVolumeState, WorkspaceState
from . import disk_limits
from . import labels as L
from . import spec as build
from .exits import ExitReader, parse_time
from .found import Found, Summary, address, group
from .images import Publish
from .inventory import Inventory
from .pending import PendingCreates
from .readiness import ReadinessTracker
from .records import Record
from .status import ExitInfo, describe


@dataclass(frozen=True)
class Observed:
    record: Record
    container: Summary | None
    exit_info: ExitInfo | None


class Observer:
    def __init__(
        self,
        client: docker.DockerClient,
        settings: Settings,
        inventory: Inventory,
        readiness: ReadinessTracker,
        pending: PendingCreates,
        publish: Publish,
    ) -> None:
        self.client = client
        self.settings = settings
        self.inventory = inventory
        self.readiness = readiness
        self.pending = pending
        self.publish = publish
        self.exits = ExitReader(client, inventory)

    # --- fresh from the engine (for changes) --------------------------------------------------
    def scan(self, owner: str | None, workspace_id: str | None) -> dict[str, Found]:
        """Our containers, by workspace id."""
        wanted = L.selector(self.settings.instance_id, owner=owner, workspace=workspace_id)
        summaries = self.client.api.containers(all=True, filters={"label": wanted})
        return group(summaries, self.settings, workspace_id)

    def current(self, owner: str, workspace_id: str) -> Found:
        """The owner's workspace; `NotFound` if it has none of that id."""
        found = self.scan(owner, workspace_id).get(workspace_id)
        if found is None or not found.records:
            raise workspace_not_found(workspace_id)
        return found

    def volumes(self, owner: str | None, workspace_id: str | None = None) -> list[dict[str, Any]]:
        wanted = L.selector(self.settings.instance_id, L.KIND_VOLUME, owner, workspace_id)
        volumes: list[dict[str, Any]] = (
            self.client.api.volumes(filters={"label": wanted}).get("Volumes") or []
        )
        return volumes

    # --- remembered (for reads) ---------------------------------------------------------------
    def observe(self, owner: str | None, workspace_id: str | None = None) -> list[Observed]:
        observed = []
        for found in group(self.inventory.containers(owner), self.settings, workspace_id).values():
            if not found.records:
                continue  # a leftover of an interrupted change; not a workspace
            record = found.record()
            container = found.container
            exit_info = None
            if (
                container is not None
                and container["State"] in ("exited", "restarting")
                and record.desired == "running"
            ):
                exit_info = self.exits.of(container)
            observed.append(Observed(record, container, exit_info))
        return observed

    def may_exist(self, owner: str, workspace_id: str) -> bool:
        """Whether the owner may have this workspace, as far as the inventory remembers
        (without asking the engine: True when it remembers nothing)."""
        summaries = self.inventory.remembered_of(owner)
        if summaries is None:
            return True
        return any(s["Labels"].get(L.WORKSPACE) == workspace_id for s in summaries)

    def running_at(self, summaries: list[Summary], workspace_id: str) -> tuple[str, str] | None:
        """(owner, host:port) of the workspace, if it runs."""
        for found in group(summaries, self.settings, workspace_id).values():
            container = found.container
            if found.records and container is not None and container["State"] == "running":
                at = address(container, self.settings.instance_id)
                if at:
                    return found.record().owner, f"{at}:{build.WORKSPACE_PORT}"
        return None

    def kept_volumes(self, owner: str | None) -> list[KeptVolumeState]:
        """Our volumes whose workspace is gone: data kept at delete."""
        workspaces = group(self.inventory.containers(owner), self.settings, None)
        kept = []
        for volume in self.volumes(owner):
            labels = volume.get("Labels") or {}
            workspace_id = labels.get(L.WORKSPACE, "")
            found = workspaces.get(workspace_id)
            if (
                not workspace_id
                or (found and found.records)
                or self.pending.rolling_back(workspace_id)
            ):
                continue  # a workspace's, or a failed create's that the reconciler undoes
            kept.append(kept_volume(volume))
        return sorted(kept, key=lambda k: (k.created_at is None, k.created_at))

    # --- what the user sees -------------------------------------------------------------------
    def state(self, observed: Observed) -> WorkspaceState:
        record, container = observed.record, observed.container
        engine_state = container["State"] if container else None
        ready, waited = False, None
        if container is not None:
            if engine_state == "running":
                ready, waited = self.readiness.check(
                    container["Id"],
                    self._probe_url(container),
                    lambda: self.publish(
                        record.owner,
                        record.workspace_id,
                        "ready",
                        "Running: the workspace answers.",
                    ),
                )
            else:
                self.readiness.forget(container["Id"])
        status, message = describe(record, engine_state, observed.exit_info, ready, waited)
        if container is None and (pending := self.pending.status(record.workspace_id)):
            status, message = pending
        running = status is WorkspaceStatus.RUNNING
        return WorkspaceState(
            id=record.workspace_id,
            owner=record.owner,
            spec=record.spec,
            status=status,
            status_message=message,
            is_stopped=record.desired == "stopped",
            created_at=record.created_at,
            access_url=self._public_path(record.workspace_id) if running else None,
            started_at=record.changed_at if engine_state == "running" else None,
        )

    def _public_path(self, workspace_id: str) -> str:
        return naming.workspace_path(self.settings.workspace_public_prefix, workspace_id)

    def _probe_url(self, container: Summary) -> str:
        at = address(container, self.settings.instance_id) or "127.0.0.1"
        path = self._public_path(container["Labels"][L.WORKSPACE])
        return f"http://{at}:{build.WORKSPACE_PORT}{path}"


def kept_volume(volume: dict[str, Any]) -> KeptVolumeState:
    """A workspace volume of this instance (as the engine lists it), as kept data."""
    labels = volume.get("Labels") or {}
    size = labels.get(L.VOLUME_SIZE, "")
    return KeptVolumeState(
        workspace_id=labels.get(L.WORKSPACE, ""),
        owner=labels.get(L.OWNER, ""),
        display_name=labels.get(L.DISPLAY_NAME, ""),
        # (Volumes made before they were labelled with their size: the hard one.)
        size=int(size) if size.isdigit() else disk_limits.volume_size(volume.get("Options")) or 0,
        created_at=parse_time(volume.get("CreatedAt")),
    )
