"""What is happening to workspaces, as it happens: the source of the `/events` streams.

Backends publish phases (pulling the image with per-layer progress, creating the volume, the
container, starting, waiting for it to answer, ready; or failed and why) from any thread. Each
workspace keeps its recent history, so a client that subscribes after its create returned
still sees every phase; subscribers of a user see their workspaces' events live. With managers
on several hosts (`DATABASE_URL`), each passes its events on to the others (`relay`), so a
client sees them whichever manager it follows them through.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from .errors import TooManyRequests
from .shared import SharedState

HISTORY = 200  # events kept per workspace
HISTORIES = 10_000  # workspaces whose history is kept (the least recently active go first)
QUEUE = 500  # events waiting for one slow reader at most: then its oldest go
STREAMS_PER_USER = 16  # open /events streams of one user (browser tabs, scripts)
TERMINAL = {"ready", "failed", "stopped", "deleted"}


class WorkspaceEvent(BaseModel):
    workspace_id: str
    owner: str
    phase: str = Field(
        description="pulling, volume, creating, starting, waiting, ready, failed, stopped, "
        "deleted; copying, copied (copies of /workspace: downloads, snapshots, restores, "
        "clones, uploads)"
    )
    message: str
    # For image pulls: bytes of one layer done and in all; for copies, bytes copied and in all.
    layer: str | None = None
    current: int | None = None
    total: int | None = None
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))


class EventBus:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._history: OrderedDict[str, deque[WorkspaceEvent]] = OrderedDict()
        self._subscribers: dict[str, set[asyncio.Queue[WorkspaceEvent]]] = {}
        self._streams: dict[str, int] = {}
        self._shared: SharedState | None = None
        self._changed: Callable[[str], None] = lambda workspace_id: None
        # Told of every event as it is delivered, and whether this manager published it.
        self._watchers: list[Callable[[WorkspaceEvent, bool], None]] = []

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop subscribers live on (set at start-up)."""
        self._loop = loop

    def relay(self, shared: SharedState, changed: Callable[[str], None]) -> None:
        """Pass events on to the other managers, and theirs to this one's subscribers (and
        to `changed`, with the workspace's id: what this one remembers of it may be old)."""
        self._shared = shared
        self._changed = changed
        shared.listen(self._received)

    def _received(self, text: str) -> None:
        """An event of another manager's (in the shared state's thread)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(
                self._deliver_theirs, WorkspaceEvent.model_validate_json(text)
            )

    def _deliver_theirs(self, event: WorkspaceEvent) -> None:
        self._changed(event.workspace_id)
        self._deliver(event, own=False)

    def watch(self, watcher: Callable[[WorkspaceEvent, bool], None]) -> None:
        """Call `watcher(event, own)` with every event, on the loop (the metrics)."""
        self._watchers.append(watcher)

    def publish(self, event: WorkspaceEvent) -> None:
        """From any thread."""
        # Always through the loop's queue, even from the loop itself: events keep the order
        # in which they were published, whichever thread published them.
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._deliver, event)
        if self._shared is not None:
            self._shared.broadcast(event.model_dump_json())

    def _deliver(self, event: WorkspaceEvent, own: bool = True) -> None:
        for watcher in self._watchers:
            watcher(event, own)
        history = self._history.setdefault(event.workspace_id, deque(maxlen=HISTORY))
        if event.phase == "copying" and history and history[-1].phase == "copying":
            # Progress of a copy replaces the one before: many copies of a workspace must not
            # push what happened to it out of its history.
            history.pop()
        history.append(event)
        self._history.move_to_end(event.workspace_id)
        while len(self._history) > HISTORIES:
            self._history.popitem(last=False)
        for key in (event.workspace_id, "owner:" + event.owner):
            for queue in self._subscribers.get(key, set()):
                if queue.full():  # a reader that does not keep up misses the oldest
                    queue.get_nowait()
                queue.put_nowait(event)
        if event.phase == "deleted":
            self._history.pop(event.workspace_id, None)

    def history(self, workspace_id: str) -> list[WorkspaceEvent]:
        return list(self._history.get(workspace_id, ()))

    def subscribe(self, key: str) -> asyncio.Queue[WorkspaceEvent]:
        """A queue of the events of a workspace id, or of "owner:<user id>", from now on."""
        queue: asyncio.Queue[WorkspaceEvent] = asyncio.Queue(maxsize=QUEUE)
        self._subscribers.setdefault(key, set()).add(queue)
        return queue

    def unsubscribe(self, key: str, queue: asyncio.Queue[WorkspaceEvent]) -> None:
        subscribers = self._subscribers.get(key, set())
        subscribers.discard(queue)
        if not subscribers:
            self._subscribers.pop(key, None)

    def open_stream(self, user: str) -> StreamSlot:
        """One of the user's STREAMS_PER_USER streams; 429 if all are open."""
        if self._streams.get(user, 0) >= STREAMS_PER_USER:
            raise TooManyRequests(
                f"{STREAMS_PER_USER} event streams of yours are open already, the most anyone "
                "may have. Close other tabs or programs that follow workspaces, then try again."
            )
        self._streams[user] = self._streams.get(user, 0) + 1
        return StreamSlot(self, user)

    def open_streams(self) -> int:
        """How many streams are open, everyone's."""
        return sum(self._streams.values())

    def _close_stream(self, user: str) -> None:
        left = self._streams.get(user, 0) - 1
        if left > 0:
            self._streams[user] = left
        else:
            self._streams.pop(user, None)


class StreamSlot:
    """An open stream's place in its user's count: given back when the stream ends, or when
    a stream whose response was never sent is dropped (its generator never ran)."""

    def __init__(self, bus: EventBus, user: str) -> None:
        self._bus: EventBus | None = bus
        self._user = user

    def release(self) -> None:
        if self._bus is not None:
            self._bus._close_stream(self._user)
            self._bus = None

    def __del__(self) -> None:
        self.release()
