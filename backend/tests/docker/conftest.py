from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import docker
import pytest

from tests.support.apiclient import Api
from tests.support.docker_api import docker_api


@pytest.fixture
async def api(engine: docker.DockerClient) -> AsyncIterator[Api]:
    async with docker_api() as api:
        yield api


@pytest.fixture
def open_api(engine: docker.DockerClient) -> Callable[..., Any]:
    """For tests that need a manager with other settings, or several users."""
    return docker_api
