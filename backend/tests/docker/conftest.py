from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import docker
import pytest

from lab_workspace_manager.backends.docker.backend import DockerBackend
from tests.apiclient import Api
from tests.apiclient import open_api as open_app
from tests.conftest import make_settings


@asynccontextmanager
async def docker_api(**overrides: Any) -> AsyncIterator[Api]:
    settings = make_settings(workspace_backend="docker", **overrides)
    backend = DockerBackend(settings)
    try:
        async with open_app(settings, backend) as api:
            yield api
    finally:
        await backend.close()


@pytest.fixture
async def api(engine: docker.DockerClient) -> AsyncIterator[Api]:
    async with docker_api() as api:
        yield api


@pytest.fixture
def open_api(engine: docker.DockerClient) -> Callable[..., Any]:
    """For tests that need a manager with other settings, or several users."""
    return docker_api
