"""An `Api` on the Docker backend (the real engine), with the tests' settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from lab_workspace_manager.backends.docker.backend import DockerBackend
from tests.support.apiclient import Api, open_api
from tests.support.settings import make_settings


@asynccontextmanager
async def docker_api(**overrides: Any) -> AsyncIterator[Api]:
    settings = make_settings(workspace_backend="docker", **overrides)
    backend = DockerBackend(settings)
    try:
        async with open_api(settings, backend) as api:
            yield api
    finally:
        await backend.close()
