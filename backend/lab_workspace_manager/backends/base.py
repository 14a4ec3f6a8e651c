"""The workspace-backend contract: the small interface every place workspaces can live implements.

A backend stores and runs workspaces; it knows nothing about HTTP, users' rights or the
configured limits (the service checks those first). Rules every implementation follows:

- A workspace belongs to exactly one owner. Every verb takes the owner, and a workspace of
  another owner is reported exactly like a missing one (`NotFound`).
- `create` either leaves a complete workspace behind or nothing at all.
- `delete` is idempotent: deleting what is gone is not an error. The data volume survives
  unless `delete_volume` is true.
- `stop` and `start` are idempotent too: stopping a stopped workspace is a no-op.
- A workspace is `running` only when it answers HTTP; until then it is `pending`.
- Only the errors of `lab_workspace_manager.errors` leave a backend.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..archives import Limits, Readable
from ..auth.base import Identity
from ..errors import Conflict, ManagerError, NotFound
from ..events import EventBus, WorkspaceEvent
from ..models import WorkspaceSpec, WorkspaceStatus
from .measurement import Measurement

BY_USER = "by its user"
BY_ADMIN = "by an administrator"
KEPT_BUT_IN_USE = (
    "This is the data of workspace '{workspace_id}', which still exists: delete the "
    "workspace with its data instead."
)
SETTLED = {WorkspaceStatus.RUNNING, WorkspaceStatus.STOPPED, WorkspaceStatus.FAILED}


@dataclass(frozen=True)
class WorkspaceState:
    """A workspace as a backend sees it right now."""

    id: str
    owner: str
    spec: WorkspaceSpec
    status: WorkspaceStatus
    status_message: str
    is_stopped: bool
    created_at: datetime
    access_url: str | None = None
    # When it was last started, while it runs (for idle stop and the maximum lifetime).
    started_at: datetime | None = None


@dataclass(frozen=True)
class KeptVolumeState:
    """The volume of a deleted workspace whose user kept its data."""

    workspace_id: str
    owner: str
    display_name: str  # as it was when the volume was made; "" if not known
    size: int  # MB it was made for
    created_at: datetime | None = None


@dataclass(frozen=True)
class DiskLimits:
    """What the engine itself holds to a size: writes beyond it fail there (hard limits).
    Whatever is not held this way is only measured and enforced by stopping (soft)."""

    # The container's writable layer (Docker: `--storage-opt size=`).
    hard_container_size: bool = False
    # /workspace volumes (Docker: the local volume driver's `size` option).
    hard_volume_size: bool = False


@dataclass(frozen=True)
class SnapshotState:
    """A named copy of a workspace's /workspace, kept apart from it (see `snapshots.py`)."""

    id: str
    owner: str
    workspace_id: str  # the workspace it was taken of (which may be gone since)
    name: str
    workspace_name: str  # that workspace's display name when it was taken
    size: int  # bytes of its files
    files: int
    # Files of a running workspace that changed while they were copied: 0 is a consistent
    # copy; otherwise those files may be older or newer than the others.
    changed_during_copy: int
    created_at: datetime


@dataclass(frozen=True)
class Seed:
    """Where a new workspace's /workspace comes from: a snapshot, another workspace, or an
    uploaded archive (read in a worker thread, checked by `archives.check_and_copy`)."""

    owner: str
    snapshot_id: str | None = None
    workspace_id: str | None = None
    upload: Readable | None = None
    upload_limits: Limits | None = None
    upload_size: int | None = None  # bytes, where the client said (for progress)


class WorkspaceBackend(ABC):
    name: str
    # Downloads, snapshots, clones and uploads of /workspace (`snapshots.py`) are offered.
    snapshots_offered: bool = False
    # Its workspaces are reached through this manager's proxy (not another's, as ML Lab's).
    proxied_by_manager: bool = True
    # The manager watches its workspaces (idle stop, lifetime, disk use); False where the
    # platform that runs them does (ML Lab stops its idle services itself).
    watched_by_manager: bool = True
    events: EventBus | None = None
    # Found out by `open()` where the backend can tell; none by default.
    disk_limits: DiskLimits = DiskLimits()
    # What workspaces cannot reach ("metadata", "host"), as installed by `open()`.
    egress_blocked: list[str] = []  # noqa: RUF012 (replaced, never changed in place)

    def attach_events(self, bus: EventBus) -> None:
        """Where this backend tells what happens (see `events.py`)."""
        self.events = bus

    def watch_engine(self, watch: Callable[[str, float, ManagerError | None], None]) -> None:
        """Tell `watch` of every call to the engine (its kind, seconds, the error if it
        failed), for the metrics. A backend without an engine of its own tells nothing."""
        return None

    def publish(
        self, owner: str, workspace_id: str, phase: str, message: str, **progress: Any
    ) -> None:
        if self.events is not None:
            self.events.publish(
                WorkspaceEvent(
                    workspace_id=workspace_id, owner=owner, phase=phase, message=message, **progress
                )
            )

    @abstractmethod
    async def list_workspaces(self, owner: str | None) -> list[WorkspaceState]:
        """The owner's workspaces (everyone's if `owner` is None), oldest first."""

    @abstractmethod
    async def get(self, owner: str, workspace_id: str) -> WorkspaceState:
        """One workspace; `NotFound` if it does not exist or is not the owner's."""

    @abstractmethod
    async def create(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool
    ) -> WorkspaceState:
        """Create a workspace with a fresh id; start it unless `start` is false."""

    @abstractmethod
    async def update(self, owner: str, workspace_id: str, spec: WorkspaceSpec) -> WorkspaceState:
        """Make the workspace match `spec`: live where possible, else recreate keeping data."""

    @abstractmethod
    async def start(self, owner: str, workspace_id: str) -> WorkspaceState: ...

    @abstractmethod
    async def stop(self, owner: str, workspace_id: str, reason: str = BY_USER) -> WorkspaceState:
        """`reason` completes the sentence "Stopped ..." the user reads."""

    @abstractmethod
    async def restart(self, owner: str, workspace_id: str) -> WorkspaceState: ...

    @abstractmethod
    async def delete(self, owner: str, workspace_id: str, delete_volume: bool) -> None: ...

    @abstractmethod
    async def logs(self, owner: str, workspace_id: str, tail: int) -> str:
        """The last `tail` lines the workspace printed (empty if it never ran)."""

    @abstractmethod
    async def check_health(self) -> None:
        """Return if the backend can do its work; raise `BackendUnavailable` if not."""

    async def open(self) -> None:
        """Called once at start-up; the default has nothing to prepare."""
        return None

    def changed_elsewhere(self, workspace_id: str) -> None:
        """Another manager changed the workspace (its event came through the shared state):
        forget what was remembered of where it runs. The default remembers nothing."""
        return None

    async def refresh(self, owner: str) -> None:
        """Make the next reads of `owner`'s workspaces see every change made so far, by this
        manager or another (for checks that must not miss one); the default reads fresh."""
        return None

    async def measure(self, disk: bool) -> dict[str, Measurement]:
        """Usage of running workspaces by id: CPU and memory, or (`disk`) disk use of all;
        empty where the backend cannot tell."""
        return {}

    async def kept_volumes(self, owner: str | None) -> list[KeptVolumeState]:
        """The data of deleted workspaces that their users kept (`owner`'s; everyone's if
        None); empty where the backend cannot tell."""
        return []

    async def delete_kept_volume(self, owner: str, workspace_id: str) -> None:
        """Remove kept data; `NotFound` if there is none, `Conflict` if its workspace exists."""
        raise NotFound("This installation does not keep the data of deleted workspaces here.")

    def no_snapshots(self) -> Conflict:
        return Conflict(
            f"Downloads, snapshots and clones of /workspace are not offered on the {self.name} "
            "backend of this installation: copy your files out of the workspace yourself."
        )

    async def archive(self, owner: str, workspace_id: str) -> AsyncIterator[bytes]:
        """The workspace's /workspace as an uncompressed tar stream, its members relative
        (`./...`); `NotFound` before the first chunk if there is no such workspace. The
        iterator must be closed (it holds engine resources while it is open)."""
        raise self.no_snapshots()

    async def snapshots(self, owner: str | None) -> list[SnapshotState]:
        """The complete snapshots of `owner` (everyone's if None), oldest first; empty where
        snapshots are not offered."""
        return []

    async def take_snapshot(
        self, owner: str, workspace_id: str, snapshot_id: str, name: str, max_bytes: int
    ) -> SnapshotState:
        """Copy the workspace's /workspace into a new snapshot: listed once complete, and
        nothing left behind if it fails (`Conflict` past `max_bytes`)."""
        raise self.no_snapshots()

    async def delete_snapshot(self, owner: str, snapshot_id: str) -> None:
        """`NotFound` if the owner has no such snapshot."""
        raise self.no_snapshots()

    async def create_seeded(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool, seed: Seed
    ) -> WorkspaceState:
        """`create`, with /workspace filled from `seed` before the workspace first starts:
        a complete workspace with all of the seed's files, or nothing at all."""
        raise self.no_snapshots()

    async def reconcile(self) -> list[str]:
        """Remove leftovers no workspace accounts for (never user data); what was removed."""
        return []

    async def locate(self, workspace_id: str) -> tuple[str, str] | None:
        """(owner, host:port) of a running workspace the manager's proxy forwards to; None
        if there is none, or if this backend's workspaces are reached by another proxy."""
        return None

    def for_caller(self, caller: Identity) -> WorkspaceBackend:
        """This backend acting for `caller`; the same object unless it acts with their token."""
        return self

    async def close(self) -> None:
        """Release connections; the default has none."""
        return None

    async def wait_settled(
        self, owner: str, workspace_id: str, timeout: float, interval: float = 0.5
    ) -> WorkspaceState:
        """Until the workspace is running, stopped or failed, or `timeout` s passed: looked at
        again as soon as one of its events arrives ("ready" comes the moment it answers), and
        at least every `interval` s for a backend that publishes none."""
        deadline = time.monotonic() + timeout
        events = self.events.subscribe(workspace_id) if self.events else None
        try:
            state = await self.get(owner, workspace_id)
            while state.status not in SETTLED and (left := deadline - time.monotonic()) > 0:
                if events is None:
                    await asyncio.sleep(min(interval, left))
                else:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(events.get(), min(interval, left))
                state = await self.get(owner, workspace_id)
            return state
        finally:
            if self.events and events is not None:
                self.events.unsubscribe(workspace_id, events)
