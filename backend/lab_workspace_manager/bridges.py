"""The WebSockets this process bridges to workspaces, and their periodic check.

Every socket bridged (see `api/routes/sockets.py`) is remembered with the credentials it was
opened with, and every `RECHECK_SECONDS` each is checked again as a new request would be: the
token still valid, the workspace still running and still the caller's to open (theirs, or shared
with them). One that fails
is ended, with the reason.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from .auth import Authenticator, Identity
from .backends import WorkspaceBackend
from .errors import BackendUnavailable, ManagerError
from .models import ShareAccess
from .sharing import Shares

RECHECK_SECONDS = 5.0

AccessCheck = Callable[[str, Identity], Awaitable[str]]


@dataclass(eq=False)
class Bridge:
    workspace_id: str
    identity: Identity
    expires: float | None  # the session's end, if it came from one
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""


class Sockets:
    """The WebSockets this process bridges, and their periodic check."""

    def __init__(
        self, authenticator: Authenticator, backend: WorkspaceBackend, shares: Shares
    ) -> None:
        self.open: set[Bridge] = set()
        self._authenticator = authenticator
        self._backend = backend
        self._shares = shares

    def count(self, workspace_id: str) -> int:
        return sum(1 for bridge in self.open if bridge.workspace_id == workspace_id)

    async def recheck(self) -> None:
        """All at once, each with a time limit: one slow answer (ML Lab) holds up no other."""
        bridges = list(self.open)
        reasons = await asyncio.gather(
            *(self._recheck_one(bridge) for bridge in bridges), return_exceptions=True
        )
        for bridge, reason in zip(bridges, reasons, strict=True):
            if isinstance(reason, str) and reason:
                bridge.reason = reason
                bridge.ended.set()

    async def _recheck_one(self, bridge: Bridge) -> str:
        if bridge.expires is not None and bridge.expires <= time.time():
            return "Your session for this workspace expired: open it again from the web app."
        try:
            return await asyncio.wait_for(
                self.refusal(bridge.workspace_id, bridge.identity), RECHECK_SECONDS
            )
        except TimeoutError:
            return ""  # cannot be decided now: ask again next time

    async def refusal(self, workspace_id: str, identity: Identity) -> str:
        """Why this caller would not get through to this workspace now; "" if they would."""
        try:
            now = await self._authenticator.identify(identity.token)
        except BackendUnavailable:
            return ""  # cannot be decided now: ask again next time
        except ManagerError:
            return "Your sign-in ended: open the workspace again from the web app."
        if now.user_id != identity.user_id:
            return "Your sign-in ended: open the workspace again from the web app."
        location = await self._backend.locate(workspace_id)
        if location is None or not await self._shares.allows(
            now, location[0], workspace_id, ShareAccess.OPEN
        ):
            return "The workspace stopped, or you may no longer open it."
        return ""
