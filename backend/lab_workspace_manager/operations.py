"""What is being done to each workspace right now, and how much each user has under way.

One change at a time per workspace: a second one is answered at once with 409 and what is in
progress (`Busy`), instead of queueing behind it (60 parallel restarts of one workspace used to
wait minutes for each other, holding a worker thread each). The manager's own work on a
workspace (an automatic or an administrator's stop, a build that waited for its image) waits
for its turn instead, in order, and is handed the workspace before any request can take it:
no flood of its user's requests keeps it out. Waiting happens on the event loop and never
holds a thread.

Each user may have a few changes running at once (`PER_USER`) and a few more waiting
(`WAITING_PER_USER`); beyond that the answer is 429. So one user's flood takes at most
`PER_USER` of the engine's change threads, whatever it sends. The manager's own work is not
counted against its user.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field

from .errors import Busy, TooManyRequests

PER_USER = 4
WAITING_PER_USER = 16


@dataclass
class _Operation:
    what: str  # "being restarted"
    started: float = field(default_factory=time.monotonic)


@dataclass
class _User:
    turns: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(PER_USER))
    waiting: int = 0
    running: int = 0


class Operations:
    def __init__(self) -> None:
        self._by_workspace: dict[str, _Operation] = {}
        # The manager's own operations waiting for a workspace, in order: (what, woken when
        # the workspace is theirs).
        self._queues: dict[str, deque[tuple[str, asyncio.Future[None]]]] = {}
        self._users: dict[str, _User] = {}

    def in_progress(self, owner: str, workspace_id: str) -> str | None:
        operation = self._by_workspace.get(f"{owner}/{workspace_id}")
        return operation.what if operation else None

    @asynccontextmanager
    async def run(
        self, owner: str, workspace_id: str, what: str, managers: bool = False
    ) -> AsyncIterator[None]:
        """Hold `workspace_id` while it is `what` ("being restarted"). A user's request gets
        `Busy` if another operation holds it; the manager's own (`managers`) waits its turn.

        Held per owner and id: a request for another user's workspace id (which the backend
        will answer with 404) neither waits for nor blocks that user's operations."""
        key = f"{owner}/{workspace_id}"
        turn: AbstractAsyncContextManager[object] = (
            nullcontext() if managers else self._user_turn(owner)
        )
        async with turn:
            current = self._by_workspace.get(key)
            if current is None:
                self._by_workspace[key] = _Operation(what)
            elif not managers:
                seconds = int(time.monotonic() - current.started)
                raise Busy(
                    f"The workspace is {current.what} (since {seconds} s ago). Wait until that "
                    "has finished (its status changes), then try again."
                )
            else:
                await self._wait_turn(key, what)
            try:
                yield
            finally:
                self._release(key)

    async def _wait_turn(self, key: str, what: str) -> None:
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues.setdefault(key, deque())
        queue.append((what, handed))
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self._release(key)  # handed over just as it was cancelled: pass it on
            else:
                queue.remove((what, handed))
            raise

    def _release(self, key: str) -> None:
        """The next waiting operation of the manager gets the workspace, at once."""
        del self._by_workspace[key]
        queue = self._queues.get(key)
        while queue:
            what, handed = queue.popleft()
            if not handed.done():
                self._by_workspace[key] = _Operation(what)
                handed.set_result(None)
                break
        if queue is not None and not queue:
            del self._queues[key]

    @asynccontextmanager
    async def _user_turn(self, owner: str) -> AsyncIterator[None]:
        user = self._users.setdefault(owner, _User())
        if user.running >= PER_USER and user.waiting >= WAITING_PER_USER:
            raise TooManyRequests(
                f"You have {PER_USER + WAITING_PER_USER} changes of workspaces under way at "
                "once, the most anyone may. Wait for them to finish, then try again."
            )
        user.waiting += 1
        try:
            await user.turns.acquire()
            user.running += 1
        finally:
            user.waiting -= 1
        try:
            yield
        finally:
            user.running -= 1
            user.turns.release()
            if user.running == 0 and user.waiting == 0:
                del self._users[owner]
