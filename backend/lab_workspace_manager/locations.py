"""Where running workspaces are, as the proxy's access check last found them.

A Jupyter page is dozens of requests: each need not ask the backend. An entry lives a few
seconds, and is dropped at once when the workspace is changed through the service (stopped,
started, moved to a new container or deleted). "Not running" is remembered only for a moment:
a workspace that is starting (a swarm places and starts it after its create has answered) is
reached as soon as it runs, while a flood of requests for one that does not run still asks
the backend only a few times a second.
"""

from __future__ import annotations

import time

from .backends import WorkspaceBackend

LOCATION_SECONDS = 5.0
NOT_RUNNING_SECONDS = 0.2


class Locations:
    """workspace id -> (owner, upstream) for a few seconds; shared by the process."""

    def __init__(self, backend: WorkspaceBackend) -> None:
        self._backend = backend
        self._entries: dict[str, tuple[float, tuple[str, str] | None]] = {}

    async def locate(self, workspace_id: str, fresh: bool = False) -> tuple[str, str] | None:
        """(owner, host:port) of the running workspace; None if it does not run here.
        `fresh`: ask the backend, whatever was remembered."""
        entry = self._entries.get(workspace_id)
        if not fresh and entry and entry[0] > time.monotonic():
            return entry[1]
        location = await self._backend.locate(workspace_id)
        if len(self._entries) > 10_000:
            self._entries.clear()
        lifetime = LOCATION_SECONDS if location else NOT_RUNNING_SECONDS
        self._entries[workspace_id] = (time.monotonic() + lifetime, location)
        return location

    def forget(self, workspace_id: str) -> None:
        self._entries.pop(workspace_id, None)
