"""Workspaces shared with other users, and the one rule of who may do what to a workspace.

An owner (or an administrator) shares a workspace with named users. A share gives "open": the
workspace through the manager's proxy, its status and its measurements; or "operate": that and
start, stop, restart, extend and its logs. Never its settings, its deletion, its shares or
anything of the owner's beyond that workspace. Opening a Jupyter workspace means running code as
its owner, in their files: the web app's share dialog says so.

Shares are kept with the shared state (the document "shares"), so every manager of an
installation knows one the moment it is made or revoked. Each access check of a grantee reads
the latest (a few bytes' look on files, a query with PostgreSQL); an owner's or an
administrator's never needs to. A revoked share therefore ends the grantee's access as any
change of access does: at the next request, which nginx may answer from its five-second cache,
and for WebSockets at the next periodic check (`bridges.RECHECK_SECONDS`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from .auth.base import Identity
from .backends import WorkspaceBackend
from .errors import Conflict, InvalidInput
from .models import ShareAccess
from .settings import Settings
from .shared import SharedState

T = TypeVar("T")

# The document is read whole (by every manager, after each change): its size stays bounded.
MAX_SHARES_PER_WORKSPACE = 50
MAX_SHARES_PER_OWNER = 200
MAX_SHARES = 5000
# Reading and writing it runs in threads of its own: a burst of share changes never holds up
# the sign-in checks and engine calls that use the shared pool.
THREADS = 4


# What each grant allows, in order: a grant allows what every grant before it does.
_ORDER = [ShareAccess.OPEN, ShareAccess.OPERATE]


def _covers(granted: ShareAccess, needed: ShareAccess) -> bool:
    return _ORDER.index(granted) >= _ORDER.index(needed)


@dataclass(frozen=True)
class Grant:
    workspace_id: str
    owner: str
    user_id: str  # the grantee
    access: ShareAccess
    created_at: datetime
    created_by: str


def sharing_refusal(settings: Settings, backend: WorkspaceBackend) -> str | None:
    """Why workspaces cannot be shared here; None where they can."""
    if not backend.proxied_by_manager:
        return (
            "Workspaces here are opened on ML Lab's proxy, which decides who may open them: "
            "share the project in ML Lab instead."
        )
    if settings.unsafe_workspaces_on_manager_origin:
        return (
            "Workspaces are served on the manager's own origin here "
            "(UNSAFE_WORKSPACES_ON_MANAGER_ORIGIN), where a shared workspace could act as "
            "whoever opens it: sharing needs workspaces on origins of their own "
            "(WORKSPACE_HOST). Ask your administrator."
        )
    return None


class Shares:
    """The shares of every workspace, as all managers of the installation know them."""

    def __init__(self, shared: SharedState, refusal: str | None = None) -> None:
        """`refusal`: why workspaces cannot be shared here (`sharing_refusal`). Shares made
        before then (under other settings) are kept but open nothing."""
        self.refusal = refusal
        self._document = shared.document("shares")
        self._lock = threading.Lock()
        self._by_workspace: dict[str, dict[str, Grant]] = {}
        self._stale = True
        self._limiter: anyio.CapacityLimiter | None = None

    # --- reading (every method reads the latest: in a thread, it may be a query) ------------
    async def grant(self, workspace_id: str, user_id: str) -> Grant | None:
        return (await self._latest()).get(workspace_id, {}).get(user_id)

    async def of_workspace(self, workspace_id: str) -> list[Grant]:
        grants = (await self._latest()).get(workspace_id, {})
        return sorted(grants.values(), key=lambda g: g.created_at)

    async def with_user(self, user_id: str) -> list[Grant]:
        """What is shared with `user_id` (nothing where sharing is not possible)."""
        if self.refusal is not None:
            return []
        return [
            grant
            for grants in (await self._latest()).values()
            if (grant := grants.get(user_id)) is not None
        ]

    async def everything(self) -> list[Grant]:
        grants = [g for each in (await self._latest()).values() for g in each.values()]
        return sorted(grants, key=lambda g: (g.owner, g.workspace_id, g.created_at))

    async def allows(
        self, identity: Identity, owner: str, workspace_id: str, needed: ShareAccess
    ) -> bool:
        """The rule: the owner and administrators may do anything with a workspace; a
        grantee what their share of it (and of no other) allows."""
        if identity.may_act_for(owner):
            return True
        if self.refusal is not None:
            return False
        grant = await self.grant(workspace_id, identity.user_id)
        return grant is not None and grant.owner == owner and _covers(grant.access, needed)

    # --- changing --------------------------------------------------------------------------
    async def put(
        self, owner: str, workspace_id: str, user_id: str, access: ShareAccess, by: str
    ) -> Grant:
        """Share (or change the access of a share); the grant as it now is."""
        if user_id == owner:
            raise InvalidInput(f"'{user_id}' owns this workspace: there is nothing to share.")

        def change(data: dict[str, Any]) -> Grant:
            entry = data.setdefault(workspace_id, {"owner": owner, "grants": {}})
            if entry["owner"] != owner:  # (ids are never reused: a leftover of another's)
                raise Conflict("This workspace's shares belong to another user. Try again.")
            grants = entry["grants"]
            if user_id not in grants:
                _within_limits(data, owner, len(grants))
            kept = grants.get(user_id, {})
            grants[user_id] = {
                "access": access.value,
                "created_at": kept.get("created_at", datetime.now(UTC).isoformat()),
                "created_by": kept.get("created_by", by),
            }
            return _grant(workspace_id, owner, user_id, grants[user_id])

        return await self._change(change)

    async def remove(self, workspace_id: str, user_id: str) -> bool:
        """Revoke; whether there was such a share."""

        def change(data: dict[str, Any]) -> bool:
            grants = data.get(workspace_id, {}).get("grants", {})
            found = grants.pop(user_id, None) is not None
            if not grants:
                data.pop(workspace_id, None)
            return found

        return await self._change(change)

    async def forget(self, workspace_ids: list[str]) -> None:
        """The workspaces are gone: so are their shares."""
        if not set(workspace_ids) & set(await self._latest()):
            return

        def change(data: dict[str, Any]) -> None:
            for workspace_id in workspace_ids:
                data.pop(workspace_id, None)

        await self._change(change)

    # --- the document ------------------------------------------------------------------------
    async def _latest(self) -> dict[str, dict[str, Grant]]:
        return await anyio.to_thread.run_sync(self._read, limiter=self._threads())

    def _threads(self) -> anyio.CapacityLimiter:
        if self._limiter is None:  # (made on the event loop, at first use)
            self._limiter = anyio.CapacityLimiter(THREADS)
        return self._limiter

    def _read(self) -> dict[str, dict[str, Grant]]:
        with self._lock:
            if self._document.reload() or self._stale:
                self._by_workspace = _grants_in(self._document.data)
                self._stale = False
            return self._by_workspace

    async def _change(self, change: Callable[[dict[str, Any]], T]) -> T:
        def run() -> T:
            with self._lock:
                self._stale = True
                with self._document.changing() as data:
                    result: T = change(data)
                return result

        return await anyio.to_thread.run_sync(run, limiter=self._threads())


def _within_limits(data: dict[str, Any], owner: str, on_workspace: int) -> None:
    if on_workspace >= MAX_SHARES_PER_WORKSPACE:
        raise Conflict(
            f"This workspace is shared with {MAX_SHARES_PER_WORKSPACE} users, the most it can "
            "be: revoke a share first."
        )
    counts = [(e["owner"], len(e.get("grants", {}))) for e in data.values()]
    if sum(n for who, n in counts if who == owner) >= MAX_SHARES_PER_OWNER:
        raise Conflict(
            f"Your workspaces are shared {MAX_SHARES_PER_OWNER} times, the most they can be: "
            "revoke a share first."
        )
    if sum(n for _, n in counts) >= MAX_SHARES:
        raise Conflict(
            f"This installation holds {MAX_SHARES} shares, the most it can: ask your "
            "administrator to revoke some."
        )


def _grants_in(data: dict[str, Any]) -> dict[str, dict[str, Grant]]:
    return {
        workspace_id: {
            user_id: _grant(workspace_id, entry["owner"], user_id, item)
            for user_id, item in entry.get("grants", {}).items()
        }
        for workspace_id, entry in data.items()
    }


def _grant(workspace_id: str, owner: str, user_id: str, item: dict[str, Any]) -> Grant:
    return Grant(
        workspace_id=workspace_id,
        owner=owner,
        user_id=user_id,
        access=ShareAccess(item["access"]),
        created_at=datetime.fromisoformat(item["created_at"]),
        created_by=item["created_by"],
    )
