"""Everything one manager process runs with: built once by `create_app`, opened and closed by
its lifespan, and handed to the routes part by part as typed dependencies (`api/deps.py`).

Every change of a workspace goes through a `WorkspaceService`: the routes' (acting for their
caller) and the policies' (idle stop, disk limits: acting as the manager), so that what follows
a change (the proxy forgets where the workspace was) happens whoever made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
import httpx

from .accounting import UsageAccounting
from .audit import AuditLog
from .auth import Authenticator, Identity, create_authenticator
from .auth.workspace_sessions import WorkspaceSessions
from .backends import WorkspaceBackend, create_backend
from .bridges import RECHECK_SECONDS, Sockets
from .errors import ManagerError
from .events import EventBus
from .locations import Locations
from .metrics import Metrics
from .policies.idle import ActivityLog, IdleWatcher
from .policies.schedule import Schedules
from .policies.usage import UsageMonitor
from .service import Admissions, WorkspaceService
from .settings import Settings
from .shared import open_shared_state
from .sharing import Shares, sharing_refusal
from .snapshots import CopySlots
from .store import Store
from .templates import Templates

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[object]]


class Runtime:
    def __init__(
        self,
        settings: Settings,
        backend: WorkspaceBackend | None = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.settings = settings
        self.shared = open_shared_state(settings)
        # One HTTP client per process, for calls to ML Lab and to workspaces. Idle connections
        # are dropped before servers drop them (uvicorn after 5 s), so a pooled connection is
        # rarely found closed.
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0),
            limits=httpx.Limits(keepalive_expiry=4.0),
            trust_env=False,
        )
        self.backend = backend or create_backend(settings, self.http, self.shared)
        self.events = EventBus()
        self.backend.attach_events(self.events)
        self.metrics = Metrics(
            (option.image for option in settings.allowed_images),
            lists_workspaces=self.backend.watched_by_manager,
        )
        self.backend.watch_engine(self.metrics.engine_call)
        self.events.watch(self.metrics.saw)
        self.metrics.count_streams(self.events.open_streams)
        self.authenticator = authenticator or create_authenticator(settings, self.http, self.shared)
        self.admissions = Admissions(self.shared)
        self.locations = Locations(self.backend)
        self.activity = ActivityLog(self.shared)
        self.shares = Shares(self.shared, sharing_refusal(settings, self.backend))
        self.schedules = Schedules(settings, self.shared, self.events)
        self.templates = Templates(settings, self.shared)
        self.usage = UsageMonitor(settings, self.backend, self._stopping("disk"))
        self.copy_slots = CopySlots()  # (copies of /workspace under way, see snapshots.py)
        self.store = Store.from_settings(settings)
        self.audit = AuditLog(self.store, settings.audit_retention_days)
        self.accounting = UsageAccounting(
            self.store, self.backend, self.usage, settings.accounting_interval
        )
        self.idle = IdleWatcher(
            settings, self.backend, self.activity, self.http, self._stopping("idle")
        )
        self.workspace_sessions = WorkspaceSessions.from_settings(settings, self.shared)
        self.sockets = Sockets(self.authenticator, self.backend, self.shares)
        self._jobs: list[asyncio.Task[None]] = []

    def service_for(self, caller: Identity | None) -> WorkspaceService:
        """The rules, acting for `caller` (None: the manager itself)."""
        return WorkspaceService(
            self.settings,
            self.backend.for_caller(caller) if caller else self.backend,
            caller,
            admissions=self.admissions,
            changed=self.locations.forget,
            activity=self.activity,
            usage=self.usage,
            shares=self.shares,
            schedules=self.schedules,
            templates=self.templates,
            metrics=self.metrics,
            before_change=self.accounting.before_change,
        )

    async def stop_for_policy(self, owner: str, workspace_id: str, reason: str) -> None:
        async with self._audited("automaticStop", owner, workspace_id, f"stopped {reason}"):
            await self.service_for(None).stop(owner, workspace_id, reason)

    def _stopping(self, policy: str) -> Callable[[str, str, str], Awaitable[None]]:
        """`stop_for_policy` for one policy (idle, disk, schedule), counted by its reason."""

        async def stop(owner: str, workspace_id: str, reason: str) -> None:
            await self.stop_for_policy(owner, workspace_id, reason)
            self.metrics.stopped_automatically(policy, reason)

        return stop

    async def start_on_schedule(self, owner: str, workspace_id: str) -> None:
        """As the owner, so that their quotas apply (an administrator's too: whether an id is
        an administrator's is known only when they sign in)."""
        caller = Identity(owner, is_admin=False)
        async with self._audited("scheduledStart", owner, workspace_id, "on its schedule"):
            await self.service_for(caller).start(owner, workspace_id, wait=False)

    async def reconcile(self) -> None:
        for removed in await self.backend.reconcile():
            self.audit.record("reconcilerRemoval", actor=None, detail=f"removed {removed}")

    @asynccontextmanager
    async def _audited(
        self, action: str, owner: str, workspace_id: str, detail: str
    ) -> AsyncIterator[None]:
        """An entry for what the manager does by itself, with how it ended."""
        try:
            yield
        except Exception as exc:
            why = exc.message if isinstance(exc, ManagerError) else "the manager failed"
            self.audit.record(
                action,
                actor=None,
                owner=owner,
                workspace_id=workspace_id,
                ok=False,
                detail=f"{detail}: {why}",
            )
            raise
        self.audit.record(action, actor=None, owner=owner, workspace_id=workspace_id, detail=detail)

    async def check_schedules(self) -> None:
        await self.schedules.check_once(
            self.backend, self.start_on_schedule, self._stopping("schedule")
        )

    async def open(self) -> None:
        """Prepare the backend, then run the periodic jobs."""
        self.events.bind(asyncio.get_running_loop())
        try:
            await anyio.to_thread.run_sync(self.shared.prepare)
        except ManagerError as exc:
            log.warning("the shared state is not reachable yet: %s", exc.message)
        self.events.relay(self.shared, self._changed_elsewhere)
        # The records' tables first: a store that cannot be reached or migrated stops the
        # start, with what went wrong (the audit log must not silently miss what follows).
        await anyio.to_thread.run_sync(self.store.migrate)
        self.audit.start()
        await self.backend.open()
        periodic: list[tuple[float, Job]] = [
            (self.settings.reconcile_interval, self.reconcile),
            (self.settings.reconcile_interval, self._sweep),
            (RECHECK_SECONDS, self.sockets.recheck),
        ]
        if self.backend.watched_by_manager:
            periodic += [
                (self.settings.idle_check_interval, self.idle.check_once),
                (self.settings.usage_interval, self.usage.sample_compute),
                (self.settings.disk_usage_interval, self.usage.sample_disk),
                (self.settings.schedule_interval, self.check_schedules),
                (self.settings.accounting_interval, self.accounting.count),
            ]
        self._jobs = [asyncio.create_task(every(seconds, job)) for seconds, job in periodic]
        if self.settings.replica_of:
            from .replica import follow_replica

            self._jobs.append(
                asyncio.create_task(
                    follow_replica(self.settings.replica_of, self.settings.docker_host)
                )
            )

    def _changed_elsewhere(self, workspace_id: str) -> None:
        """Another manager changed the workspace: its proxy route is looked up again."""
        self.locations.forget(workspace_id)
        self.backend.changed_elsewhere(workspace_id)

    async def _sweep(self) -> None:
        """What managers that died left in the shared state, and shares of workspaces that
        are gone."""
        await anyio.to_thread.run_sync(self.shared.sweep)
        await self.service_for(None).forget_orphaned_shares()
        await anyio.to_thread.run_sync(self.audit.prune)

    async def close(self) -> None:
        for job in self._jobs:
            job.cancel()
        # (A job in a worker thread ends its call first: none then uses what closes below.)
        await asyncio.gather(*self._jobs, return_exceptions=True)
        await self.accounting.settle()
        await self.backend.close()
        with contextlib.suppress(Exception):  # (logged by the writer; the rest must close)
            await self.audit.stop()
        await anyio.to_thread.run_sync(self.store.close)
        await self.authenticator.close()
        await self.http.aclose()
        await anyio.to_thread.run_sync(self.shared.close)


async def every(seconds: float, job: Job) -> None:
    """Run `job` now and then every `seconds`, logging (not raising) what goes wrong."""
    while True:
        try:
            await job()
        except ManagerError as exc:
            log.warning("%s skipped: %s", getattr(job, "__qualname__", job), exc.message)
        except Exception:
            log.exception("%s failed", getattr(job, "__qualname__", job))
        await asyncio.sleep(seconds)
