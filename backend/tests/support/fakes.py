"""Backends that fail or take their time, for the service's failure paths (as JupyterHub's
`BadSpawner` and `SlowSpawner`): each is the in-memory backend with one verb changed."""

from __future__ import annotations

import asyncio

from lab_workspace_manager.backends import WorkspaceState
from lab_workspace_manager.backends.memory import InMemoryBackend
from lab_workspace_manager.errors import BackendUnavailable
from lab_workspace_manager.models import WorkspaceSpec

ENGINE_GONE = "The Docker engine is not reachable (a test's failing backend)."


class FailingBackend(InMemoryBackend):
    """`create` and `start` fail as an engine that went away does, while `failing` is set."""

    failing = True

    async def create(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool
    ) -> WorkspaceState:
        if self.failing:
            raise BackendUnavailable(ENGINE_GONE)
        return await super().create(owner, workspace_id, spec, start)

    async def start(self, owner: str, workspace_id: str) -> WorkspaceState:
        if self.failing:
            raise BackendUnavailable(ENGINE_GONE)
        return await super().start(owner, workspace_id)


class SlowBackend(InMemoryBackend):
    """`create` takes `seconds` (a pull, a slow engine)."""

    seconds = 0.5

    async def create(
        self, owner: str, workspace_id: str, spec: WorkspaceSpec, start: bool
    ) -> WorkspaceState:
        await asyncio.sleep(self.seconds)
        return await super().create(owner, workspace_id, spec, start)
