"""An in-memory backend: the fake used by API tests and by the contract suite's fast half.

It keeps the same promises as the real backends (see `base.py`) without running anything: a
started workspace is `running` at once, logs are the lines it "printed" on each start.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from ..errors import Conflict, NotFound, workspace_not_found
from ..models import WorkspaceSpec, WorkspaceStatus
from ..naming import workspace_path
from .base import BY_USER, KEPT_BUT_IN_USE, KeptVolumeState, WorkspaceBackend, WorkspaceState


class InMemoryBackend(WorkspaceBackend):
    name = "memory"

    def __init__(self, public_prefix: str = "") -> None:
        self._prefix = public_prefix
        self._workspaces: dict[str, WorkspaceState] = {}
        self._logs: dict[str, list[str]] = {}
        self._lock = asyncio.Lock()
        # Volumes by (owner, workspace id), so tests can see what `delete` leaves behind.
        self.volumes: dict[tuple[str, str], KeptVolumeState] = {}

    def _load(self, owner: str, workspace_id: str) -> WorkspaceState:
        state = self._workspaces.get(workspace_id)
        if state is None or state.owner != owner:
            raise workspace_not_found(workspace_id)
        return state

    def _set_running(self, state: WorkspaceState, running: bool) -> WorkspaceState:
        if running:
            self.publish(state.owner, state.id, "starting", "Starting.")
            self.publish(state.owner, state.id, "ready", "Running.")
            self._logs.setdefault(state.id, []).append(
                f"workspace {state.id} started with {state.spec.container_image}"
            )
        new = replace(
            state,
            status=WorkspaceStatus.RUNNING if running else WorkspaceStatus.STOPPED,
            status_message="Running." if running else "Stopped by its user.",
            is_stopped=not running,
            access_url=workspace_path(self._prefix, state.id) if running else None,
            started_at=datetime.now(UTC) if running else None,
        )
        self._workspaces[state.id] = new
        return new

    async def list_workspaces(self, owner: str | None) -> list[WorkspaceState]:
        return sorted(
            (w for w in self._workspaces.values() if owner is None or w.owner == owner),
            key=lambda w: w.created_at,
        )

    async def get(self, owner: str, workspace_id: str) -> WorkspaceState:
        return self._load(owner, workspace_id)

    async def create(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool
    ) -> WorkspaceState:
        async with self._lock:
            if workspace_id in self._workspaces:
                raise Conflict(f"Workspace id '{workspace_id}' is already in use.")
            state = WorkspaceState(
                id=workspace_id,
                owner=owner,
                spec=spec,
                status=WorkspaceStatus.STOPPED,
                status_message="",
                is_stopped=True,
                created_at=datetime.now(UTC),
            )
            self.volumes[(owner, workspace_id)] = KeptVolumeState(
                workspace_id, owner, spec.display_name, spec.compute.volume_size, state.created_at
            )
            return self._set_running(state, start)

    async def update(self, owner: str, workspace_id: str, spec: WorkspaceSpec) -> WorkspaceState:
        state = replace(self._load(owner, workspace_id), spec=spec)
        self._workspaces[workspace_id] = state
        return state

    async def start(self, owner: str, workspace_id: str) -> WorkspaceState:
        state = self._load(owner, workspace_id)
        if state.status is WorkspaceStatus.RUNNING:
            return state
        return self._set_running(state, True)

    async def stop(self, owner: str, workspace_id: str, reason: str = BY_USER) -> WorkspaceState:
        state = self._set_running(self._load(owner, workspace_id), False)
        state = replace(state, status_message=f"Stopped {reason}.")
        self.publish(owner, workspace_id, "stopped", state.status_message)
        self._workspaces[workspace_id] = state
        return state

    async def restart(self, owner: str, workspace_id: str) -> WorkspaceState:
        return self._set_running(self._load(owner, workspace_id), True)

    async def delete(self, owner: str, workspace_id: str, delete_volume: bool) -> None:
        state = self._workspaces.get(workspace_id)
        if state is not None and state.owner == owner:
            del self._workspaces[workspace_id]
            self._logs.pop(workspace_id, None)
            self.publish(owner, workspace_id, "deleted", "Deleted.")
        if delete_volume:
            self.volumes.pop((owner, workspace_id), None)

    async def kept_volumes(self, owner: str | None) -> list[KeptVolumeState]:
        return [
            kept
            for (of, workspace_id), kept in self.volumes.items()
            if workspace_id not in self._workspaces and owner in (None, of)
        ]

    async def delete_kept_volume(self, owner: str, workspace_id: str) -> None:
        if (owner, workspace_id) not in self.volumes:
            raise NotFound(f"There is no kept data of a workspace '{workspace_id}' of yours.")
        if workspace_id in self._workspaces:
            raise Conflict(KEPT_BUT_IN_USE.format(workspace_id=workspace_id))
        del self.volumes[(owner, workspace_id)]

    async def logs(self, owner: str, workspace_id: str, tail: int) -> str:
        self._load(owner, workspace_id)
        lines = self._logs.get(workspace_id, [])
        return "".join(line + "\n" for line in lines[-tail:])

    async def check_health(self) -> None:
        return None
