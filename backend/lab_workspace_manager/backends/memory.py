"""An in-memory backend: the fake used by API tests and by the contract suite's fast half.

It keeps the same promises as the real backends (see `base.py`) without running anything: a
started workspace is `running` at once, logs are the lines it "printed" on each start.
"""

from __future__ import annotations

import asyncio
import io
import tarfile
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import anyio.to_thread

from ..archives import check_and_copy
from ..errors import Conflict, NotFound, workspace_not_found
from ..models import WorkspaceSpec, WorkspaceStatus
from ..naming import workspace_path
from .base import (
    BY_USER,
    KEPT_BUT_IN_USE,
    KeptVolumeState,
    Seed,
    SnapshotState,
    WorkspaceBackend,
    WorkspaceState,
)


class InMemoryBackend(WorkspaceBackend):
    name = "memory"

    snapshots_offered = True

    def __init__(self, public_prefix: str = "") -> None:
        self._prefix = public_prefix
        # /workspace of each workspace id, path -> content, for tests to fill and read.
        self.files: dict[str, dict[str, bytes]] = {}
        self._snapshots: dict[str, tuple[SnapshotState, dict[str, bytes]]] = {}
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

    async def archive(self, owner: str, workspace_id: str) -> AsyncIterator[bytes]:
        self._load(owner, workspace_id)
        return _chunks(_tar(self.files.get(workspace_id, {})))

    async def snapshots(self, owner: str | None) -> list[SnapshotState]:
        found = [s for s, _ in self._snapshots.values() if owner in (None, s.owner)]
        return sorted(found, key=lambda s: s.created_at)

    async def take_snapshot(
        self, owner: str, workspace_id: str, snapshot_id: str, name: str, max_bytes: int
    ) -> SnapshotState:
        state = self._load(owner, workspace_id)
        files = dict(self.files.get(workspace_id, {}))
        size = sum(len(content) for content in files.values())
        if size > max_bytes:
            raise Conflict(f"/workspace holds {size} bytes, more than {max_bytes} allowed.")
        snapshot = SnapshotState(
            snapshot_id, owner, workspace_id, name, state.spec.display_name, size, len(files), 0,
            datetime.now(UTC),
        )  # fmt: skip
        self._snapshots[snapshot_id] = (snapshot, files)
        return snapshot

    async def delete_snapshot(self, owner: str, snapshot_id: str) -> None:
        found = self._snapshots.get(snapshot_id)
        if found is None or found[0].owner != owner:
            raise NotFound(f"You have no snapshot '{snapshot_id}'.")
        del self._snapshots[snapshot_id]

    async def create_seeded(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool, seed: Seed
    ) -> WorkspaceState:
        if seed.upload is not None:
            assert seed.upload_limits is not None
            checked = io.BytesIO()
            await anyio.to_thread.run_sync(check_and_copy, seed.upload, checked, seed.upload_limits)
            files = _untar(checked.getvalue())
        elif seed.snapshot_id is not None:
            found = self._snapshots.get(seed.snapshot_id)
            if found is None or found[0].owner != seed.owner:
                raise NotFound(f"You have no snapshot '{seed.snapshot_id}'.")
            files = found[1]
        else:
            self._load(seed.owner, str(seed.workspace_id))
            files = self.files.get(str(seed.workspace_id), {})
        state = await self.create(owner, workspace_id, spec, start)
        self.files[workspace_id] = dict(files)
        return state

    async def logs(self, owner: str, workspace_id: str, tail: int) -> str:
        self._load(owner, workspace_id)
        lines = self._logs.get(workspace_id, [])
        return "".join(line + "\n" for line in lines[-tail:])

    async def check_health(self) -> None:
        return None


def _tar(files: dict[str, bytes]) -> bytes:
    """The files as a tar archive, as the engine's would be: members relative to ./."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for path, content in sorted(files.items()):
            member = tarfile.TarInfo("./" + path)
            member.size = len(content)
            archive.addfile(member, io.BytesIO(content))
    return out.getvalue()


def _untar(data: bytes) -> dict[str, bytes]:
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
        for member in archive:
            content = archive.extractfile(member) if member.isreg() else None
            if content is not None:
                files[member.name.removeprefix("./")] = content.read()
    return files


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
