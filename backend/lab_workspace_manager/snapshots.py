"""Getting a workspace's data out and back: downloads of /workspace, named snapshots, restores
and clones. The rules that hold on every backend live here; the copying is the backend's.

A download is the backend's tar stream, compressed here chunk by chunk as it passes: nothing of
it is kept in memory or on disk, and it is cut off (the connection ends without the archive's
end, so no client takes it for a whole one) once it holds more than `SNAPSHOT_MAX_SIZE`.
A snapshot is a copy the engine keeps (Docker: a volume) and counts toward its owner's disk
quota; a restore or clone makes a new workspace, with the rules of any other create.
Only a workspace's owner and administrators get at its data: a share, even one to operate it,
gives none (a grantee could take the owner's files away with it).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime

import anyio.to_thread
from pydantic import BaseModel, Field

from . import naming
from .archives import Body, Limits
from .auth.base import Identity
from .backends.base import Seed, SnapshotState
from .errors import Conflict, InvalidInput, NotFound, TooManyRequests
from .models import Workspace, WorkspaceInput
from .quotas import quotas_apply
from .service import WorkspaceService
from .settings import MIB

SNAPSHOT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"
# gzip's level 6 (its default) costs about 3 times level 1's CPU for 10 % less size: a
# download is mostly waiting on the network, but this is the manager's CPU.
COMPRESSION_LEVEL = 1
PROGRESS_BYTES = 16 * MIB  # a download's progress is told this often
COPIES_PER_USER = 2
COPIES_IN_ALL = 6


class SnapshotInput(BaseModel):
    name: str = Field(
        pattern=SNAPSHOT_NAME_PATTERN,
        description="Letters, digits, spaces, '.', '_' and '-', 64 at most; unique among the "
        "snapshots of the workspace.",
    )


class Snapshot(BaseModel):
    id: str
    user_id: str
    workspace_id: str = Field(description="The workspace it was taken of (it may be gone).")
    workspace_name: str = Field(description="That workspace's name when it was taken.")
    name: str
    size: int = Field(description="Bytes of its files.")
    files: int
    changed_during_copy: int = Field(
        description="Files that changed while the workspace (running) was copied: 0 is a "
        "consistent snapshot; otherwise those files may be from just before or after the rest."
    )
    created_at: datetime


class ArchiveTooLarge(Exception):
    """The stream was cut: the archive would be larger than allowed."""


def to_api(state: SnapshotState) -> Snapshot:
    return Snapshot(
        id=state.id,
        user_id=state.owner,
        workspace_id=state.workspace_id,
        workspace_name=state.workspace_name,
        name=state.name,
        size=state.size,
        files=state.files,
        changed_during_copy=state.changed_during_copy,
        created_at=state.created_at,
    )


def archive_name(display_name: str, when: datetime) -> str:
    """`<name>-<UTC date and time>.tar.gz`, safe in a Content-Disposition header."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", display_name).strip("-.")[:64] or "workspace"
    return f"{stem}-{when:%Y%m%d-%H%M%S}.tar.gz"


async def gzipped(
    tar: AsyncIterator[bytes],
    max_bytes: int,
    progress: Callable[[int, bool], None] = lambda seen, done: None,
) -> AsyncIterator[bytes]:
    """`tar` compressed as gzip as it passes (in a worker thread: it is CPU work). Past
    `max_bytes` of tar, `ArchiveTooLarge` ends it before the gzip trailer: the response is cut
    off, and gzip and tar readers both report a truncated archive. `progress` is told the
    bytes of tar so far every PROGRESS_BYTES, and at the end."""
    compressor = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, 31)  # 31: a gzip header
    seen = told = 0
    try:
        async for chunk in tar:
            seen += len(chunk)
            if seen - told >= PROGRESS_BYTES:
                progress(seen, False)
                told = seen
            if seen > max_bytes:
                raise ArchiveTooLarge(
                    f"/workspace holds more than the {max_bytes // MIB} MB a download may have."
                )
            data = await anyio.to_thread.run_sync(compressor.compress, chunk)
            if data:
                yield data
        yield compressor.flush()
        progress(seen, True)
    finally:
        close = getattr(tar, "aclose", None)
        if close is not None:
            await close()


class CopySlots:
    """How many copies (downloads, snapshots, restores, clones, uploads) run at once in this
    manager: each holds a worker thread (and a copier or archiver) while it runs, so one
    user may have COPIES_PER_USER and everyone COPIES_IN_ALL; more are refused at once
    (429), never queued behind the others' creates and starts."""

    def __init__(self, per_user: int = COPIES_PER_USER, in_all: int = COPIES_IN_ALL) -> None:
        self._per_user = per_user
        self._in_all = in_all
        self._held: dict[str, int] = {}

    @contextmanager
    def held(self, owner: str) -> Iterator[None]:
        if self._held.get(owner, 0) >= self._per_user:
            raise TooManyRequests(
                f"You have {self._per_user} copies of files under way (downloads, snapshots, "
                "restores, clones or uploads): wait until one has finished."
            )
        if sum(self._held.values()) >= self._in_all:
            raise TooManyRequests(
                f"{self._in_all} copies of files are under way for users of this manager: "
                "try again in a minute."
            )
        self._held[owner] = self._held.get(owner, 0) + 1
        try:
            yield
        finally:
            self._held[owner] -= 1
            if not self._held[owner]:
                del self._held[owner]


async def released(
    stream: AsyncIterator[bytes], slot: AbstractContextManager[None]
) -> AsyncIterator[bytes]:
    """`stream`, and `slot` left when it ends (read to the end, failed, or abandoned)."""
    try:
        async for chunk in stream:
            yield chunk
    finally:
        slot.__exit__(None, None, None)


class Snapshots:
    """The snapshot verbs, for one caller (around their `WorkspaceService`)."""

    def __init__(self, service: WorkspaceService, caller: Identity, slots: CopySlots) -> None:
        self.service = service
        self.caller = caller
        self.settings = service.settings
        self.backend = service.backend
        self.slots = slots

    @property
    def max_bytes(self) -> int:
        return self.settings.snapshot_max_size * MIB

    async def _check_size(self, owner: str, workspace_id: str) -> int | None:
        """Refuse at once what the last measurement already says is too large; the MB it
        held then, if it was measured."""
        stats = await self.service.stats(owner, workspace_id)
        if stats.volume_used is not None and stats.volume_used > self.settings.snapshot_max_size:
            raise Conflict(
                f"/workspace holds {stats.volume_used} MB, more than the "
                f"{self.settings.snapshot_max_size} MB a download or snapshot may have "
                "(SNAPSHOT_MAX_SIZE). Delete files you do not need, or copy them out yourself."
            )
        return stats.volume_used

    async def download(self, owner: str, workspace_id: str) -> tuple[str, AsyncIterator[bytes]]:
        """(file name, the gzip stream) of /workspace."""
        workspace = await self.service.get(owner, workspace_id)
        used = await self._check_size(owner, workspace_id)
        slot = self.slots.held(owner)
        slot.__enter__()  # (left when the stream ends, however it ends)
        try:
            tar = await self.backend.archive(owner, workspace_id)
        except BaseException:
            slot.__exit__(None, None, None)
            raise
        name = archive_name(workspace.display_name, datetime.now(UTC))

        def progress(seen: int, done: bool) -> None:
            if done:
                self.backend.publish(owner, workspace_id, "copied", "Downloaded.")
            else:
                total = used * MIB if used is not None else None
                message = "Downloading /workspace."
                self.backend.publish(
                    owner, workspace_id, "copying", message, current=seen, total=total
                )

        return name, released(gzipped(tar, self.max_bytes, progress), slot)

    async def list(self, owner: str | None) -> list[Snapshot]:
        return [to_api(s) for s in await self.backend.snapshots(owner)]

    async def take(self, owner: str, workspace_id: str, name: str) -> Snapshot:
        workspace = await self.service.get(owner, workspace_id)
        if not self.backend.snapshots_offered:
            raise self.backend.no_snapshots()
        theirs = await self.backend.snapshots(owner)
        if any(s.workspace_id == workspace_id and s.name == name for s in theirs):
            raise Conflict(
                f"Workspace '{workspace.display_name}' has a snapshot named '{name}' already: "
                "choose another name, or delete that one first."
            )
        if len(theirs) >= self.settings.snapshots_per_user:
            raise Conflict(
                f"You have {len(theirs)} snapshots, as many as you may keep "
                f"(SNAPSHOTS_PER_USER): delete one first."
            )
        await self._check_size(owner, workspace_id)
        await self._check_disk_quota(owner, workspace_id)
        snapshot_id = naming.new_workspace_id()
        with self.slots.held(owner):
            state = await self.backend.take_snapshot(
                owner, workspace_id, snapshot_id, name, self.max_bytes
            )
        return to_api(state)

    async def _check_disk_quota(self, owner: str, workspace_id: str) -> None:
        """A snapshot takes about what /workspace holds now (its last measurement)."""
        quota = self.settings.quota_disk
        if quota is None or not quotas_apply(self.settings, self.caller.is_admin):
            return
        stats = await self.service.stats(owner, workspace_id)
        needed = stats.volume_used or 0
        workspaces = await self.service.list_workspaces(owner)
        taken = sum(w.compute.volume_size for w in workspaces)
        taken += sum(k.size for k in await self.service.kept_volumes(owner))
        taken += sum(-(-s.size // MIB) for s in await self.backend.snapshots(owner))
        if taken + needed > quota:
            raise Conflict(
                f"Quota reached: your workspaces, kept data and snapshots may use {quota} MB "
                f"of disk in all; {taken} MB are taken and this snapshot needs about {needed} "
                "MB. Delete a snapshot, kept data or a workspace first."
            )

    async def delete(self, owner: str, snapshot_id: str) -> None:
        await self.backend.delete_snapshot(owner, snapshot_id)

    async def restore(self, owner: str, snapshot_id: str, request: WorkspaceInput) -> Workspace:
        """A new workspace of the owner's with the snapshot's files."""
        if not any(s.id == snapshot_id for s in await self.backend.snapshots(owner)):
            raise NotFound(f"You have no snapshot '{snapshot_id}'.")
        with self.slots.held(owner):
            return await self.service.create(
                owner, request, False, Seed(owner, snapshot_id=snapshot_id)
            )

    async def upload(
        self, owner: str, request: WorkspaceInput, body: AsyncIterator[bytes], size: int | None
    ) -> Workspace:
        """A new workspace of the owner's with the checked files of an uploaded archive
        (`size`: its bytes, where the client said)."""
        if not self.backend.snapshots_offered:
            raise self.backend.no_snapshots()
        if size is not None and size > self.max_bytes:
            raise InvalidInput(
                f"The upload is larger than the {self.settings.snapshot_max_size} MB allowed "
                "(SNAPSHOT_MAX_SIZE). Nothing was created."
            )
        limits = Limits(max_files=self.settings.upload_max_files, max_bytes=self.max_bytes)
        upload = Body(body, self.max_bytes)
        seed = Seed(owner, upload=upload, upload_limits=limits, upload_size=size)
        with self.slots.held(owner):
            return await self.service.create(owner, request, False, seed)

    async def clone(self, owner: str, workspace_id: str, request: WorkspaceInput) -> Workspace:
        """A new workspace of the owner's with a copy of the workspace's files."""
        await self.service.get(owner, workspace_id)
        await self._check_size(owner, workspace_id)
        with self.slots.held(owner):
            return await self.service.create(
                owner, request, False, Seed(owner, workspace_id=workspace_id)
            )
