"""What the API does with workspaces: validate, keep names unique, then ask the backend.

Backend-independent rules live here, so every backend gets them: requests are checked against
the settings before anything is created, display names are unique per user (case-insensitive),
and ids are generated here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager, AsyncExitStack, asynccontextmanager, nullcontext
from dataclasses import asdict

from . import naming
from .auth.base import Identity
from .backends import WorkspaceBackend, WorkspaceState
from .backends.base import BY_ADMIN, BY_USER, Seed
from .errors import Conflict, InvalidInput, NotFound, workspace_not_found
from .metrics import Metrics
from .models import (
    KeptVolume,
    Share,
    ShareAccess,
    SharedWorkspace,
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
from .policies.schedule import Schedules
from .policies.usage import UsageMonitor
from .quotas import CONSUMING, check_quotas, quotas_apply
from .settings import MIB, Settings
from .shared import SharedState
from .sharing import Shares
from .templates import Templates, usable
from .validation import apply_update, fit_to, resolve_input

SCHEDULES_UNAVAILABLE = (
    "schedule: workspaces of the ML Lab backend are started and stopped by ML Lab, which has "
    "no schedules: start and stop this one yourself."
)


class Admissions:
    """Per owner, for the checks a change must pass before it is made (quotas, unique display
    names): one lock, held against this process's other requests and against the other
    managers sharing DATA_DIR, and the names being created or renamed right now (the backend
    does not list a workspace before its create returns, but a second request for the same
    name must already get its 409)."""

    def __init__(self, shared: SharedState) -> None:
        self.shared = shared
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def lock(self, owner: str) -> AsyncIterator[bool]:
        """The owner's lock; True if another manager held it last (it may have made what
        this one has not seen yet)."""
        async with (
            self._locks.setdefault(owner, asyncio.Lock()),
            self.shared.lock("owner", owner) as held,
        ):
            yield held.take_over(self.shared.me)


class WorkspaceService:
    """The rules, for one caller: built per request (`Runtime.service_for`) around the backend
    acting for them."""

    def __init__(
        self,
        settings: Settings,
        backend: WorkspaceBackend,
        caller: Identity | None,
        *,
        admissions: Admissions,
        changed: Callable[[str], None],
        activity: ActivityLog,
        usage: UsageMonitor,
        shares: Shares,
        schedules: Schedules,
        templates: Templates,
        before_change: Callable[[str, str], Awaitable[None]] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self._caller = caller  # None: the manager itself (its policies)
        self._admissions = admissions
        # Told after a workspace was stopped, moved or removed (the proxy forgets its address).
        self._changed = changed
        self._activity = activity
        self._usage = usage
        self._shares = shares
        self._schedules = schedules
        self._templates = templates
        # Told before a change that may end a workspace's run (usage accounting counts it).
        self._before_change = before_change
        self._metrics = metrics

    async def list_workspaces(self, owner: str) -> list[Workspace]:
        await self._templates.all()  # (what `_to_api` says of each one's template)
        return [self._to_api(state) for state in await self.backend.list_workspaces(owner)]

    async def list_all(
        self, owner: str | None, status: WorkspaceStatus | None, limit: int, offset: int
    ) -> WorkspacePage:
        """Every user's workspaces (for administrators), filtered and a page at a time."""
        states = await self.backend.list_workspaces(owner)
        await self._templates.all()
        matching = [s for s in states if status is None or s.status is status]
        page = matching[offset : offset + limit]
        return WorkspacePage(
            items=[self._to_api(s) for s in page], total=len(matching), limit=limit, offset=offset
        )

    async def get(self, owner: str, workspace_id: str) -> Workspace:
        state = await self.backend.get(owner, workspace_id)
        await self._templates.all()
        return self._to_api(state)

    async def create(
        self, owner: str, request: WorkspaceInput, wait: bool, seed: Seed | None = None
    ) -> Workspace:
        """`seed`: where its /workspace is copied from (a snapshot, another workspace)."""
        template = None
        if request.template is not None:
            template = usable(await self._templates.get(request.template), request.template)
        elif not self.settings.custom_allowed and not (self._caller and self._caller.is_admin):
            raise InvalidInput(
                "template: choose a template (GET /templates): workspaces that follow none are "
                "not offered here."
            )
        spec = resolve_input(request, template.rules(self.settings) if template else self.settings)
        if template is not None:
            spec = spec.model_copy(
                update={
                    "template": template.name,
                    "template_version": template.version,
                    "environment": template.environment,
                }
            )
        if spec.schedule and not self.backend.watched_by_manager:
            if "schedule" in request.model_fields_set:
                raise InvalidInput(SCHEDULES_UNAVAILABLE)
            spec = spec.model_copy(update={"schedule": None})  # (the default does not apply)
        workspace_id = naming.new_workspace_id()
        start = not request.is_stopped
        with self._counted("create", workspace_id):
            if start and self._metrics:
                self._metrics.starting(workspace_id, spec.container_image)
            async with self._admitted(owner, None, spec, start, spec.display_name):
                if seed is None:
                    state = await self.backend.create(owner, workspace_id, spec, start)
                else:
                    state = await self.backend.create_seeded(owner, workspace_id, spec, start, seed)
        return await self._settled(state, wait)

    async def update(self, owner: str, workspace_id: str, request: WorkspaceUpdate) -> Workspace:
        current = await self.backend.get(owner, workspace_id)
        rules = await self._rules(current.spec)
        if rules is None:  # its template was removed, and custom workspaces are not offered
            if {"container_image", "compute", "idle_timeout"} & request.model_fields_set:
                raise Conflict(
                    f"Its template '{current.spec.template}' was removed: its image, size and "
                    "idle timeout stay as they are. Ask your administrator."
                )
            rules = self.settings
        spec = apply_update(current.spec, request, rules)
        changed_schedule = spec.schedule and spec.schedule != current.spec.schedule
        if changed_schedule and not self.backend.watched_by_manager:
            raise InvalidInput(SCHEDULES_UNAVAILABLE)
        runs = current.status in CONSUMING
        async with self._admitted(owner, workspace_id, spec, runs, spec.display_name):
            await self._ending_run(owner, workspace_id)
            state = await self.backend.update(owner, workspace_id, spec)
        self._changed(workspace_id)
        return self._to_api(state)

    async def start(self, owner: str, workspace_id: str, wait: bool) -> Workspace:
        with self._counted("start", workspace_id):
            current = await self._within_disk_limits(owner, workspace_id)
            if self._metrics and current.status is not WorkspaceStatus.RUNNING:
                self._metrics.starting(workspace_id, current.spec.container_image)
            async with self._admitted(owner, workspace_id, None, True):
                state = await self.backend.start(owner, workspace_id)
        self._changed(workspace_id)
        await self._schedules.clear_problem(workspace_id)
        return await self._settled(state, wait)

    async def restart(self, owner: str, workspace_id: str, wait: bool) -> Workspace:
        with self._counted("restart", workspace_id):
            current = await self._within_disk_limits(owner, workspace_id)
            if self._metrics:
                self._metrics.starting(workspace_id, current.spec.container_image)
            async with self._admitted(owner, workspace_id, None, True):
                await self._ending_run(owner, workspace_id)
                state = await self.backend.restart(owner, workspace_id)
        self._changed(workspace_id)
        return await self._settled(state, wait)

    async def stop(self, owner: str, workspace_id: str, reason: str | None = None) -> Workspace:
        """`reason`: why the manager stops it (idle, disk, lifetime); a user's or an
        administrator's stop says so itself."""
        caller = self._caller
        if reason is None:
            by_admin = caller is not None and caller.is_admin and caller.user_id != owner
            reason = BY_ADMIN if by_admin else BY_USER
            if caller is not None and not caller.may_act_for(owner):
                reason = f"by {caller.user_id}, who it is shared with"
        with self._counted("stop", workspace_id):
            await self._ending_run(owner, workspace_id)
            state = await self.backend.stop(owner, workspace_id, reason)
        self._changed(workspace_id)
        return self._to_api(state)

    async def _ending_run(self, owner: str, workspace_id: str) -> None:
        if self._before_change is not None:
            await self._before_change(owner, workspace_id)

    async def delete(self, owner: str, workspace_id: str, delete_volume: bool) -> None:
        try:
            await self.backend.get(owner, workspace_id)
            existed = True
        except NotFound:
            existed = False  # (what is kept by workspace id may be another user's)
        with self._counted("delete", workspace_id):
            if existed:
                await self._ending_run(owner, workspace_id)
            await self.backend.delete(owner, workspace_id, delete_volume)
        self._changed(workspace_id)
        if existed:
            await self._shares.forget([workspace_id])
            await self._schedules.forget(workspace_id)
            self._activity.forget(workspace_id)
            # Kept data is still measured: it counts toward the disk quota.
            self._usage.forget(workspace_id, keep_disk=not delete_volume)

    # --- shares ----------------------------------------------------------------------------------
    async def shares_of(self, owner: str, workspace_id: str) -> list[Share]:
        await self.backend.get(owner, workspace_id)  # 404 if it is not theirs
        grants = await self._shares.of_workspace(workspace_id)
        return [Share(**asdict(grant)) for grant in grants if grant.owner == owner]

    async def share(
        self, owner: str, workspace_id: str, user_id: str, access: ShareAccess
    ) -> Share:
        if self._shares.refusal:
            raise Conflict(self._shares.refusal)
        await self.backend.get(owner, workspace_id)
        by = self._caller.user_id if self._caller else owner
        grant = await self._shares.put(owner, workspace_id, user_id, access, by)
        try:  # deleted meanwhile (its shares were removed before this one was written)?
            await self.backend.get(owner, workspace_id)
        except NotFound:
            await self._shares.forget([workspace_id])
            raise
        return Share(**asdict(grant))

    async def unshare(self, owner: str, workspace_id: str, user_id: str) -> None:
        """(Also of a workspace that is gone: what is left of its shares can go.)"""
        grant = await self._shares.grant(workspace_id, user_id)
        if (
            grant is None
            or grant.owner != owner
            or not await self._shares.remove(workspace_id, user_id)
        ):
            raise NotFound(f"Workspace '{workspace_id}' is not shared with '{user_id}'.")

    async def forget_orphaned_shares(self) -> int:
        """Shares of workspaces that are gone (deleted outside this manager, or while being
        shared): how many workspaces' shares were removed."""
        grants = await self._shares.everything()
        if not grants:
            return 0
        present = {state.id for state in await self.backend.list_workspaces(None)}
        gone: list[str] = []
        for grant in grants:
            if grant.workspace_id in present or grant.workspace_id in gone:
                continue
            try:  # (looked up on its own: a listing may lag behind a create)
                await self.backend.get(grant.owner, grant.workspace_id)
            except NotFound:
                gone.append(grant.workspace_id)
        await self._shares.forget(gone)
        return len(gone)

    async def shared_with(self, user_id: str) -> list[SharedWorkspace]:
        """The workspaces others shared with `user_id`, as they are now. Shares of workspaces
        that are gone (deleted outside this manager) are dropped here."""
        found, gone = [], []
        for grant in await self._shares.with_user(user_id):
            try:
                state = await self.backend.get(grant.owner, grant.workspace_id)
            except NotFound:
                gone.append(grant.workspace_id)
                continue
            found.append(
                SharedWorkspace(
                    workspace=self._to_api(state), access=grant.access, shared_at=grant.created_at
                )
            )
        if gone:
            await self._shares.forget(gone)
        return sorted(found, key=lambda s: (s.workspace.user_id, s.workspace.display_name))

    async def all_shares(self) -> list[Share]:
        return [Share(**asdict(grant)) for grant in await self._shares.everything()]

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

    async def _rules(self, spec: WorkspaceSpec) -> Settings | None:
        """What a change of a workspace is checked against: its template's rules; the
        settings for a custom workspace, or one whose template was removed where custom ones
        are offered; None where they are not (it may not become one)."""
        if spec.template is None:
            return self.settings
        template = await self._templates.get(spec.template)
        if template is not None:
            return template.rules(self.settings)
        custom = self.settings.custom_allowed or (
            self._caller is not None and self._caller.is_admin
        )
        return self.settings if custom else None

    async def apply_template(self, owner: str, workspace_id: str) -> Workspace:
        """Bring a workspace to its template's latest version: what the template now fixes
        is set, what it lets users choose is kept where still allowed (else its new default),
        and its environment is set. An image or environment that changes restarts it."""
        current = await self.backend.get(owner, workspace_id)
        name = current.spec.template
        if name is None:
            raise Conflict("This workspace was not made from a template.")
        template = await self._templates.get(name)
        if template is None:
            raise Conflict(f"Its template '{name}' was removed: there is nothing to apply.")
        spec = fit_to(current.spec, template.rules(self.settings)).model_copy(
            update={"template_version": template.version, "environment": template.environment}
        )
        runs = current.status in CONSUMING
        async with self._admitted(owner, workspace_id, spec, runs):
            state = await self.backend.update(owner, workspace_id, spec)
        self._changed(workspace_id)
        return self._to_api(state)

    async def postpone(self, owner: str, workspace_id: str) -> Workspace:
        """Move the next scheduled stop an hour later."""
        state = await self.backend.get(owner, workspace_id)
        await self._schedules.postpone(state)
        return self._to_api(state)

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
        # The earliest stop that will happen: idle, lifetime or schedule.
        stop = stop_plan(state, self._activity, self.settings)
        scheduled = self._schedules.plan(state)
        postponable = False
        if scheduled.stop and (stop is None or scheduled.stop.at < stop[0]):
            stop = (scheduled.stop.at, scheduled.stop.reason)
            postponable = scheduled.stop.postponable
        message = state.status_message
        if scheduled.problem:
            # Why (a quota names the owner's other workspaces) is for the owner.
            grantee = self._caller is not None and not self._caller.may_act_for(state.owner)
            problem = scheduled.problem.split(": ", 1)[0] + "." if grantee else scheduled.problem
            message = f"{message} {problem}"
        spec = state.spec.model_dump()
        # What will happen, not only what was asked: the administrator's setting applies too.
        spec["clear_volume_on_stop"] = clears_on_stop(state.spec, self.settings)
        return Workspace(
            **spec,
            id=state.id,
            user_id=state.owner,
            status=state.status,
            status_message=message,
            is_stopped=state.is_stopped,
            access_url=state.access_url,
            created_at=state.created_at,
            stops_at=stop[0] if stop else None,
            stop_reason=stop[1] if stop else None,
            stop_postponable=postponable,
            starts_at=scheduled.starts_at,
            template_status=self._templates.status(
                state.spec.template, state.spec.template_version
            ),
        )

    async def _within_disk_limits(self, owner: str, workspace_id: str) -> WorkspaceState:
        """A workspace still over its soft disk size after its time to make room starts again
        only at an administrator's hand (who then gives it that time once more). The
        workspace as it is."""
        state = await self.backend.get(owner, workspace_id)
        if self._caller is not None and self._caller.is_admin:
            self._usage.grant_grace(workspace_id)
            return state
        refusal = self._usage.refusal_to_start(state)
        if refusal:
            raise Conflict(refusal)
        return state

    def _counted(self, operation: str, workspace_id: str) -> AbstractContextManager[None]:
        """Counts the change in the metrics by how it ends (none where there are none)."""
        if self._metrics is None:
            return nullcontext()
        return self._metrics.operation(operation, workspace_id)

    @asynccontextmanager
    async def _admitted(
        self,
        owner: str,
        workspace_id: str | None,
        spec: WorkspaceSpec | None,
        runs: bool,
        display_name: str | None = None,
    ) -> AsyncIterator[None]:
        """Check the owner's quotas for `spec` (None: the workspace's own) and that
        `display_name` is not taken by another of theirs, against one fresh listing under the
        owner's lock. The name is held until the change is made; so is the lock where quotas
        apply (the next check must count what this one allowed). Nothing is read where
        there is nothing to check."""
        is_admin = self._caller.is_admin if self._caller else True
        quotas = quotas_apply(self.settings, is_admin)
        if not quotas and display_name is None:
            yield
            return
        key = display_name.casefold() if display_name is not None else None
        shared = self._admissions.shared
        claim: str | None = None
        try:
            async with AsyncExitStack() as held:
                elsewhere = await held.enter_async_context(self._admissions.lock(owner))
                if key is not None:
                    claim = shared.claim_name(owner, key)
                    if claim is None:
                        raise self._name_taken(display_name)
                if elsewhere:  # what another manager made counts before this one has seen it
                    await self.backend.refresh(owner)
                mine = await self.backend.list_workspaces(owner)
                if key is not None and any(
                    w.spec.display_name.casefold() == key and w.id != workspace_id for w in mine
                ):
                    raise self._name_taken(display_name)
                if quotas:
                    await self._check_quotas(owner, workspace_id, spec, runs, mine)
                else:
                    await held.aclose()  # the claimed name is enough from here
                yield
        finally:
            if claim is not None and key is not None:
                shared.release_name(owner, key, claim)

    @staticmethod
    def _name_taken(display_name: str | None) -> Conflict:
        return Conflict(
            f"You already have a workspace named '{display_name}'. "
            "Choose another name, or open the existing one."
        )

    async def _check_quotas(
        self,
        owner: str,
        workspace_id: str | None,
        spec: WorkspaceSpec | None,
        runs: bool,
        mine: list[WorkspaceState],
    ) -> None:
        others = [w for w in mine if w.id != workspace_id]
        if spec is None:
            current = [w for w in mine if w.id == workspace_id]
            if not current:
                raise workspace_not_found(str(workspace_id))
            spec = current[0].spec
        kept = 0
        if self.settings.quota_disk is not None:
            kept = sum(k.size for k in await self.kept_volumes(owner))
            # Snapshots take disk as well (MB, rounded up).
            kept += sum(-(-s.size // MIB) for s in await self.backend.snapshots(owner))
        check_quotas(self.settings, others, spec, runs, kept)
