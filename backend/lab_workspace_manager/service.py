"""What the API does with workspaces: validate, keep names unique, then ask the backend.

Backend-independent rules live here, so every backend gets them: requests are checked against
the settings before anything is created, display names are unique per user (case-insensitive),
and ids are generated here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from . import naming
from .auth.base import Identity
from .backends import WorkspaceBackend, WorkspaceState
from .backends.base import BY_ADMIN, BY_USER
from .errors import Conflict, NotFound, workspace_not_found
from .models import (
    KeptVolume,
    Workspace,
    WorkspaceInput,
    WorkspacePage,
    WorkspaceSpec,
    WorkspaceStats,
    WorkspaceStatus,
    WorkspaceUpdate,
)
from .policies.clearing import clears_on_stop
from .policies.idle import ActivityLog, stop_plan
from .policies.usage import UsageMonitor
from .quotas import CONSUMING, check_quotas, quotas_apply
from .settings import Settings
from .validation import apply_update, resolve_input


class NameReservations:
    """Display names being created or renamed right now, per owner (one per process).

    The backend does not list a workspace before its create returns, but a second request
    for the same name must already get its 409.
    """

    def __init__(self) -> None:
        self.locks: dict[str, asyncio.Lock] = {}
        self.reserved: dict[str, set[str]] = {}
        # Held, where quotas apply, from a quota check to the end of what it allowed.
        self.quota_locks: dict[str, asyncio.Lock] = {}


class WorkspaceService:
    """The rules, for one caller: built per request around the backend acting for them."""

    def __init__(
        self,
        settings: Settings,
        backend: WorkspaceBackend,
        names: NameReservations,
        changed: Callable[[str], None] = lambda workspace_id: None,
        caller: Identity | None = None,
        activity: ActivityLog | None = None,
        usage: UsageMonitor | None = None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self._names = names
        self._caller = caller
        self._activity = activity or ActivityLog()
        self._usage = usage or UsageMonitor(settings, backend)
        # Told after a workspace was stopped, moved or removed (the proxy forgets its address).
        self._changed = changed

    async def list_workspaces(self, owner: str) -> list[Workspace]:
        return [self._to_api(state) for state in await self.backend.list_workspaces(owner)]

    async def list_all(
        self, owner: str | None, status: WorkspaceStatus | None, limit: int, offset: int
    ) -> WorkspacePage:
        """Every user's workspaces (for administrators), filtered and a page at a time."""
        states = await self.backend.list_workspaces(owner)
        matching = [s for s in states if status is None or s.status is status]
        page = matching[offset : offset + limit]
        return WorkspacePage(
            items=[self._to_api(s) for s in page], total=len(matching), limit=limit, offset=offset
        )

    async def get(self, owner: str, workspace_id: str) -> Workspace:
        return self._to_api(await self.backend.get(owner, workspace_id))

    async def create(self, owner: str, request: WorkspaceInput, wait: bool) -> Workspace:
        spec = resolve_input(request, self.settings)
        workspace_id = naming.new_workspace_id()
        start = not request.is_stopped
        async with (
            self._within_quotas(owner, None, spec, start),
            self._reserve_name(owner, spec.display_name, None),
        ):
            state = await self.backend.create(owner, workspace_id, spec, start)
        return await self._settled(state, wait)

    async def update(self, owner: str, workspace_id: str, request: WorkspaceUpdate) -> Workspace:
        current = await self.backend.get(owner, workspace_id)
        spec = apply_update(current.spec, request, self.settings)
        runs = current.status in CONSUMING
        async with (
            self._within_quotas(owner, workspace_id, spec, runs),
            self._reserve_name(owner, spec.display_name, workspace_id),
        ):
            state = await self.backend.update(owner, workspace_id, spec)
        self._changed(workspace_id)
        return self._to_api(state)

    async def start(self, owner: str, workspace_id: str, wait: bool) -> Workspace:
        await self._within_disk_limits(owner, workspace_id)
        async with self._within_quotas(owner, workspace_id, None, True):
            state = await self.backend.start(owner, workspace_id)
        self._changed(workspace_id)
        return await self._settled(state, wait)

    async def restart(self, owner: str, workspace_id: str, wait: bool) -> Workspace:
        await self._within_disk_limits(owner, workspace_id)
        async with self._within_quotas(owner, workspace_id, None, True):
            state = await self.backend.restart(owner, workspace_id)
        self._changed(workspace_id)
        return await self._settled(state, wait)

    async def stop(self, owner: str, workspace_id: str) -> Workspace:
        caller = self._caller
        by_admin = caller is not None and caller.is_admin and caller.user_id != owner
        state = await self.backend.stop(owner, workspace_id, BY_ADMIN if by_admin else BY_USER)
        self._changed(workspace_id)
        return self._to_api(state)

    async def delete(self, owner: str, workspace_id: str, delete_volume: bool) -> None:
        try:
            await self.backend.get(owner, workspace_id)
            existed = True
        except NotFound:
            existed = False  # (what is kept by workspace id may be another user's)
        await self.backend.delete(owner, workspace_id, delete_volume)
        self._changed(workspace_id)
        if existed:
            self._activity.forget(workspace_id)
            # Kept data is still measured: it counts toward the disk quota.
            self._usage.forget(workspace_id, keep_disk=not delete_volume)

    async def kept_volumes(self, owner: str | None) -> list[KeptVolume]:
        """Data kept from deleted workspaces, with the MB each counts toward the quota: the
        size it was made for, or what it was last measured to hold where that is more."""
        kept = []
        for volume in await self.backend.kept_volumes(owner):
            used = self._usage.volume_used(volume.workspace_id)
            kept.append(
                KeptVolume(
                    workspace_id=volume.workspace_id,
                    user_id=volume.owner,
                    display_name=volume.display_name,
                    size=max(volume.size, used or 0),
                    used=used,
                    created_at=volume.created_at,
                )
            )
        return kept

    async def delete_kept_volume(self, owner: str, workspace_id: str) -> None:
        await self.backend.delete_kept_volume(owner, workspace_id)
        self._usage.forget(workspace_id)

    async def logs(self, owner: str, workspace_id: str, tail: int) -> str:
        return await self.backend.logs(owner, workspace_id, tail)

    async def _settled(self, state: WorkspaceState, wait: bool) -> Workspace:
        if wait:
            state = await self.backend.wait_settled(
                state.owner, state.id, self.settings.workspace_ready_timeout
            )
        return self._to_api(state)

    async def stats(self, owner: str, workspace_id: str) -> WorkspaceStats:
        return self._usage.stats(await self.backend.get(owner, workspace_id))

    async def extend(self, owner: str, workspace_id: str) -> Workspace:
        """Postpone idle stop by a full idle timeout, without changing any setting."""
        state = await self.backend.get(owner, workspace_id)
        if state.spec.idle_timeout == 0:
            raise Conflict("This workspace has no idle timeout: it is never stopped for idling.")
        if state.status not in CONSUMING:
            raise Conflict("Only a running workspace can be kept running longer; start it.")
        self._activity.touch(workspace_id)
        return self._to_api(state)

    def _to_api(self, state: WorkspaceState) -> Workspace:
        plan = stop_plan(state, self._activity, self.settings)
        spec = state.spec.model_dump()
        # What will happen, not only what was asked: the administrator's setting applies too.
        spec["clear_volume_on_stop"] = clears_on_stop(state.spec, self.settings)
        return Workspace(
            **spec,
            id=state.id,
            user_id=state.owner,
            status=state.status,
            status_message=state.status_message,
            is_stopped=state.is_stopped,
            access_url=state.access_url,
            created_at=state.created_at,
            stops_at=plan[0] if plan else None,
            stop_reason=plan[1] if plan else None,
        )

    async def _within_disk_limits(self, owner: str, workspace_id: str) -> None:
        """A workspace still over its soft disk size after its time to make room starts again
        only at an administrator's hand (who then gives it that time once more)."""
        state = await self.backend.get(owner, workspace_id)
        if self._caller is not None and self._caller.is_admin:
            self._usage.grant_grace(workspace_id)
            return
        refusal = self._usage.refusal_to_start(state)
        if refusal:
            raise Conflict(refusal)

    @asynccontextmanager
    async def _within_quotas(
        self, owner: str, workspace_id: str | None, spec: WorkspaceSpec | None, runs: bool
    ) -> AsyncIterator[None]:
        """Check the owner's quotas for `spec` (None: the workspace's own), and hold them
        until the change is made. Nothing is read where no quota applies."""
        is_admin = self._caller.is_admin if self._caller else False
        if not quotas_apply(self.settings, is_admin):
            yield
            return
        async with self._names.quota_locks.setdefault(owner, asyncio.Lock()):
            mine = await self.backend.list_workspaces(owner)
            others = [w for w in mine if w.id != workspace_id]
            if spec is None:
                current = [w for w in mine if w.id == workspace_id]
                if not current:
                    raise workspace_not_found(str(workspace_id))
                spec = current[0].spec
            kept = 0
            if self.settings.quota_disk is not None:
                kept = sum(k.size for k in await self.kept_volumes(owner))
            check_quotas(self.settings, others, spec, runs, kept)
            yield

    @asynccontextmanager
    async def _reserve_name(
        self, owner: str, display_name: str, workspace_id: str | None
    ) -> AsyncIterator[None]:
        """Hold `display_name` for `owner` while a create or rename runs; 409 if it is taken.

        `workspace_id` is the workspace being renamed: its own current name does not count.
        """
        key = display_name.casefold()
        lock = self._names.locks.setdefault(owner, asyncio.Lock())
        reserved = self._names.reserved.setdefault(owner, set())
        async with lock:
            taken = key in reserved or any(
                w.spec.display_name.casefold() == key and w.id != workspace_id
                for w in await self.backend.list_workspaces(owner)
            )
            if taken:
                raise Conflict(
                    f"You already have a workspace named '{display_name}'. "
                    "Choose another name, or open the existing one."
                )
            reserved.add(key)
        try:
            yield
        finally:
            reserved.discard(key)
