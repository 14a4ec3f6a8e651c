"""Where workspaces live. `create_backend` is the one place that picks an implementation."""

from __future__ import annotations

import httpx

from ..settings import Settings
from ..shared import SharedState
from .base import KeptVolumeState, WorkspaceBackend, WorkspaceState

__all__ = ["KeptVolumeState", "WorkspaceBackend", "WorkspaceState", "create_backend"]


def create_backend(
    settings: Settings, http: httpx.AsyncClient, shared: SharedState
) -> WorkspaceBackend:
    if settings.workspace_backend == "memory":
        from .memory import InMemoryBackend

        return InMemoryBackend(settings.workspace_public_prefix)
    if settings.workspace_backend == "mllab":
        from .mllab import MLLabBackend

        return MLLabBackend(settings, http)
    if settings.workspace_backend == "swarm":
        from .swarm.backend import SwarmBackend

        return SwarmBackend(settings, shared=shared)
    from .docker.backend import DockerBackend

    return DockerBackend(settings, shared=shared)
