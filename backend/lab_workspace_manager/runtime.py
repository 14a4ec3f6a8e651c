"""Everything one manager process runs with: built once by `create_app`, opened and closed by
its lifespan, and handed to the routes part by part as typed dependencies (`api/deps.py`).

Every change of a workspace goes through a `WorkspaceService`: the routes' (acting for their
caller) and the policies' (idle stop, disk limits: acting as the manager), so that what follows
a change (the proxy forgets where the workspace was) happens whoever made it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import anyio.to_thread
import httpx

from .auth import Authenticator, Identity, create_authenticator
from .auth.workspace_sessions import WorkspaceSessions
from .backends import WorkspaceBackend, create_backend
from .bridges import RECHECK_SECONDS, Sockets
from .errors import ManagerError
from .events import EventBus
from .locations import Locations
from .policies.idle import ActivityLog, IdleWatcher
from .policies.schedule import Schedules
from .policies.usage import UsageMonitor
from .service import Admissions, WorkspaceService
from .settings import Settings
from .shared import open_shared_state
from .sharing import Shares, sharing_refusal
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
        self.authenticator = authenticator or create_authenticator(settings, self.http, self.shared)
        self.admissions = Admissions(self.shared)
        self.locations = Locations(self.backend)
        self.activity = ActivityLog(self.shared)
        self.shares = Shares(self.shared, sharing_refusal(settings, self.backend))
        self.schedules = Schedules(settings, self.shared, self.events)
        self.templates = Templates(settings, self.shared)
        self.usage = UsageMonitor(settings, self.backend, self.stop_for_policy)
        self.idle = IdleWatcher(
            settings, self.backend, self.activity, self.http, self.stop_for_policy
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
        )

    async def stop_for_policy(self, owner: str, workspace_id: str, reason: str) -> None:
        await self.service_for(None).stop(owner, workspace_id, reason)

    async def start_on_schedule(self, owner: str, workspace_id: str) -> None:
        """As the owner, so that their quotas apply (an administrator's too: whether an id is
        an administrator's is known only when they sign in)."""
        caller = Identity(owner, is_admin=False)
        await self.service_for(caller).start(owner, workspace_id, wait=False)

    async def check_schedules(self) -> None:
        await self.schedules.check_once(self.backend, self.start_on_schedule, self.stop_for_policy)

    async def open(self) -> None:
        """Prepare the backend, then run the periodic jobs."""
        self.events.bind(asyncio.get_running_loop())
        try:
            await anyio.to_thread.run_sync(self.shared.prepare)
        except ManagerError as exc:
            log.warning("the shared state is not reachable yet: %s", exc.message)
        self.events.relay(self.shared, self._changed_elsewhere)
        await self.backend.open()
        periodic: list[tuple[float, Job]] = [
            (self.settings.reconcile_interval, self.backend.reconcile),
            (self.settings.reconcile_interval, self._sweep),
            (RECHECK_SECONDS, self.sockets.recheck),
        ]
        if self.backend.watched_by_manager:
            periodic += [
                (self.settings.idle_check_interval, self.idle.check_once),
                (self.settings.usage_interval, self.usage.sample_compute),
                (self.settings.disk_usage_interval, self.usage.sample_disk),
                (self.settings.schedule_interval, self.check_schedules),
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

    async def close(self) -> None:
        for job in self._jobs:
            job.cancel()
        await self.backend.close()
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
