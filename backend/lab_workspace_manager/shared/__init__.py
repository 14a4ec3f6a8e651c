"""What managers running side by side share, so that every invariant holds with several.

Several manager processes (replicas behind one address, or an old and a new one during an
update) share what the engine's labels do not hold:

- locks: per owner, while quotas are checked and what they allowed is made; per workspace,
  while it is being changed (so two managers never build the same workspace twice); per
  user network, while it is made or removed. A lock is released when its holder dies;
- names being created or renamed (the first manager wins);
- the last activity of each workspace, so that one manager's idle watcher sees the traffic
  the others' proxies saw;
- how a background create is getting on (its pull's progress, or why it failed);
- which hand-off codes were used;
- small documents (the issued tokens) and generated secrets;
- events, so that a client following a workspace through one manager sees what another did.

Two implementations: files in `DATA_DIR/shared` (`files.py`, the default: managers on one
host sharing one volume) and PostgreSQL (`postgres.py`, with `DATABASE_URL`: managers on any
number of hosts). A process's own waiting is still done in memory first (see
`operations.py`): this only settles what another process may be doing at the same time.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any

from ..settings import Settings

POLL_SECONDS = 0.02  # how often a lock held by another manager is tried again
STALE_CLAIM_SECONDS = 600  # a name claim this old was left by a manager that died mid-way
STALE_PENDING_SECONDS = 300  # a pull that told nothing for this long is not under way
USED_SECONDS = 600  # a used hand-off code is remembered this long (codes live a minute)


class HeldElsewhere(Exception):
    """Another manager process holds the lock."""


class Held(abc.ABC):
    """A lock, while it is held."""

    remove: bool = False  # set by its holder: nothing will need this lock again

    @abc.abstractmethod
    def take_over(self, holder: str) -> bool:
        """Note `holder` as the lock's last holder; whether the one before was another."""


class Document(abc.ABC):
    """A small JSON document that all managers share (the issued tokens): `data` is this
    process's copy, `reload` reads the latest when another changed it, `changing` changes the
    latest under a lock."""

    data: dict[str, Any]

    @abc.abstractmethod
    def reload(self) -> bool:
        """Read the document if another version is there; True if `data` was replaced."""

    @abc.abstractmethod
    def changing(self) -> AbstractContextManager[dict[str, Any]]:
        """The latest data, to change; written when the block ends without an error."""


class SharedState(abc.ABC):
    me: str  # this process, as the holder of a lock

    @abc.abstractmethod
    def lock(self, *key: str, wait: bool = True) -> AbstractAsyncContextManager[Held]:
        """Hold the lock named by `key` against other processes. Without `wait`, a lock held
        elsewhere raises `HeldElsewhere` at once. Waiting never holds a thread."""

    @abc.abstractmethod
    def holding(self, *key: str) -> AbstractContextManager[None]:
        """`lock`, for a worker thread: waits for the lock in the thread."""

    @abc.abstractmethod
    def claim_name(self, owner: str, folded_name: str) -> str | None:
        """Claim a display name while a workspace is created or renamed to it: the claim (to
        release it with), or None if another request (of any manager) holds it."""

    @abc.abstractmethod
    def release_name(self, owner: str, folded_name: str, claim: str) -> None:
        """Release `claim`, and nothing else (another request may have taken the name over)."""

    @abc.abstractmethod
    def use_once(self, nonce: str) -> bool:
        """True the first time any manager asks about `nonce` (a hand-off code's), False
        after, for USED_SECONDS (longer than any code lives)."""

    @abc.abstractmethod
    def touch(self, workspace_id: str, when: float) -> None:
        """Tell the others of activity at `when`: only ever later than what they know (an
        older moment, such as the last activity a workspace's Jupyter reports, moves nothing)."""

    @abc.abstractmethod
    def last_activity(self, workspace_id: str) -> float | None: ...

    @abc.abstractmethod
    def forget_activity(self, workspace_id: str) -> None: ...

    @abc.abstractmethod
    def set_pending(self, workspace_id: str, status: str, message: str) -> None: ...

    @abc.abstractmethod
    def pending(self, workspace_id: str) -> tuple[str, str] | None:
        """(status, message) of a create under way ("pending") or failed in any manager. One
        not told about for STALE_PENDING_SECONDS was left by a manager that died mid-way (or
        failed long ago: then the workspace reads as its record and engine say)."""

    @abc.abstractmethod
    def clear_pending(self, workspace_id: str) -> None: ...

    @abc.abstractmethod
    def document(self, name: str) -> Document: ...

    @abc.abstractmethod
    def kept_secret(self, name: str) -> str:
        """A secret generated once, by whichever manager asks first, the same for all."""

    @abc.abstractmethod
    def sweep(self) -> int:
        """Remove what no manager needs any more (run now and then); how many entries."""

    def prepare(self) -> None:  # noqa: B027 (optional: nothing to do)
        """Connect now (at start, in a thread) rather than at first use."""

    def broadcast(self, message: str) -> None:  # noqa: B027 (optional: nothing to do)
        """Send `message` (an event, as JSON) to the other managers' `listen`. Managers that
        share files run on one host and do not pass events on."""

    def listen(self, receive: Callable[[str], None]) -> None:  # noqa: B027 (optional: nothing to do)
        """Call `receive` (from another thread) with what the other managers `broadcast`."""

    def close(self) -> None:  # noqa: B027 (optional: nothing to do)
        """Let go of what this process holds (connections)."""


def open_shared_state(settings: Settings) -> SharedState:
    """PostgreSQL when DATABASE_URL is set, else files in DATA_DIR."""
    if settings.database_url is not None:
        from .postgres import PostgresSharedState

        return PostgresSharedState(
            settings.database_url.get_secret_value(),
            settings.instance_id,
            settings.database_connections,
        )
    from .files import FileSharedState

    return FileSharedState(settings.data_dir)


__all__ = [
    "POLL_SECONDS",
    "STALE_CLAIM_SECONDS",
    "STALE_PENDING_SECONDS",
    "USED_SECONDS",
    "Document",
    "Held",
    "HeldElsewhere",
    "SharedState",
    "open_shared_state",
]
