"""Idle stop and maximum lifetime.

A running workspace with `idle_timeout > 0` is stopped once that long has passed without
activity. Activity is the latest of: its start, traffic through the manager's proxy, the
user's "extend", and what Jupyter itself reports about its kernels and terminals (their last
activity; a busy kernel counts as "now": a long training run is not idle). Jupyter's global
`/api/status` last_activity is not used: our own polling of its API would count as activity.
An administrator's WORKSPACE_MAX_LIFETIME stops a workspace that long after it started,
activity or not.

Activity lives in this process's memory: after a manager restart the clock starts again,
which can only make a stop later, never earlier.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx

from ..backends import WorkspaceBackend, WorkspaceState
from ..errors import Busy, TooManyRequests
from ..models import WorkspaceStatus
from ..naming import workspace_path
from ..settings import Settings
from ..shared import SharedState
from ..untrusted_replies import body_of
from . import Stop
from .clearing import automatic_stop_reason

log = logging.getLogger(__name__)


JUPYTER_SECONDS = 5.0  # for Jupyter's answer about its kernels or terminals, all of it
SHARE_SECONDS = 1.0  # activity is told to the other managers at most this often


class ActivityLog:
    """workspace id -> the last moment something happened in it (Unix time), as this manager
    saw it and as the others sharing its DATA_DIR told (at most SHARE_SECONDS late)."""

    def __init__(self, shared: SharedState) -> None:
        self._shared = shared
        self._last: dict[str, float] = {}
        self._told: dict[str, float] = {}  # what the others were last told, by workspace

    def touch(self, workspace_id: str, when: float | None = None) -> None:
        when = time.time() if when is None else when
        if when > self._last.get(workspace_id, 0):
            self._last[workspace_id] = when
            if when - self._told.get(workspace_id, 0) >= SHARE_SECONDS:
                self._shared.touch(workspace_id, when)
                self._told[workspace_id] = when

    def last(self, workspace_id: str) -> float | None:
        mine, theirs = self._last.get(workspace_id), self._shared.last_activity(workspace_id)
        return max(mine or 0, theirs or 0) or None

    def forget(self, workspace_id: str) -> None:
        self._last.pop(workspace_id, None)
        self._told.pop(workspace_id, None)
        self._shared.forget_activity(workspace_id)


def duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def stop_plan(
    state: WorkspaceState, activity: ActivityLog, settings: Settings
) -> tuple[datetime, str] | None:
    """When this workspace will be stopped, and the reason it will give; None if never."""
    if state.status not in (WorkspaceStatus.RUNNING, WorkspaceStatus.PENDING):
        return None
    started = state.started_at or datetime.now(UTC)
    plans = []
    idle = state.spec.idle_timeout
    if idle > 0:
        last = activity.last(state.id)
        active = max(started, datetime.fromtimestamp(last, UTC)) if last else started
        plans.append((active + timedelta(seconds=idle), f"after {duration(idle)} without activity"))
    lifetime = settings.max_lifetime
    if lifetime > 0:
        plans.append(
            (
                started + timedelta(seconds=lifetime),
                f"after reaching the maximum running time of {duration(lifetime)}",
            )
        )
    return min(plans) if plans else None


class IdleWatcher:
    def __init__(
        self,
        settings: Settings,
        backend: WorkspaceBackend,
        activity: ActivityLog,
        http: httpx.AsyncClient,
        stop: Stop,
    ) -> None:
        self._settings = settings
        self._backend = backend  # for reading; changes go through `stop` (the service)
        self._activity = activity
        self._http = http
        self._stop = stop

    async def check_once(self) -> list[str]:
        """Stop what is due; the ids of the workspaces stopped. One workspace that cannot be
        checked (or stopped) is logged and skipped: the others are still checked."""
        stopped = []
        for state in await self._backend.list_workspaces(None):
            try:
                if await self._check(state):
                    stopped.append(state.id)
            except (Busy, TooManyRequests) as exc:  # its user is changing it: next round
                log.info("idle check of workspace %s skipped: %s", state.id, exc.message)
            except Exception:
                log.exception("idle check of workspace %s failed; the others go on", state.id)
        return stopped

    async def _check(self, state: WorkspaceState) -> bool:
        if state.status is WorkspaceStatus.PENDING:
            # Starting (a big image can take minutes) is not idling: the clock starts once it
            # answers.
            self._activity.touch(state.id)
        elif state.spec.idle_timeout > 0 and state.status is WorkspaceStatus.RUNNING:
            await self._ask_jupyter(state)
        plan = stop_plan(state, self._activity, self._settings)
        if plan is None or plan[0] > datetime.now(UTC):
            return False
        reason = automatic_stop_reason(plan[1], state.spec, self._settings)
        log.info("stopping workspace %s of %s %s", state.id, state.owner, reason)
        await self._stop(state.owner, state.id, reason)
        self._activity.forget(state.id)
        return True

    async def _ask_jupyter(self, state: WorkspaceState) -> None:
        """Jupyter's own view: its kernels' and terminals' last activity; busy is now. The
        reply is the workspace's to choose: read within bounds, and anything that is not
        Jupyter's answer counts as no activity."""
        located = await self._backend.locate(state.id)
        if located is None:
            return
        path = workspace_path(self._settings.workspace_public_prefix, state.id)
        base = f"http://{located[1]}{path}"
        now = time.time()
        for kind in ("kernels", "terminals"):
            body = await body_of(self._http, f"{base}api/{kind}", JUPYTER_SECONDS)
            for busy, last in _activities(body):
                if busy:
                    self._activity.touch(state.id)
                if last is not None:
                    # Never later than now: a claimed future would keep it running forever.
                    self._activity.touch(state.id, min(last, now))


def _activities(body: bytes | None) -> list[tuple[bool, float | None]]:
    """(busy, last activity) of each kernel or terminal Jupyter listed; [] for anything else."""
    try:
        items = json.loads(body) if body else []
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    found = []
    for item in items:
        if not isinstance(item, dict):
            continue
        last = item.get("last_activity")
        found.append((item.get("execution_state") == "busy", _timestamp(last)))
    return found


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
