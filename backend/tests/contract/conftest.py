from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from lab_workspace_manager.backends import WorkspaceBackend
from lab_workspace_manager.backends.docker.backend import DockerBackend
from lab_workspace_manager.backends.memory import InMemoryBackend
from tests.support.apiclient import Api, open_api
from tests.support.settings import make_settings
from tests.support.swarm_cluster import swarm_api


@pytest.fixture(params=["memory", "docker", "mllab", "swarm"])
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    """The same tests on the in-memory fake, the real Docker engine, a real ML Lab and a real
    Docker Swarm (through the manager's image running on it: only there are its workspaces
    reached)."""
    if request.param == "swarm":
        cluster = request.getfixturevalue("swarm")
        async with swarm_api(cluster, request.getfixturevalue("swarm_manager")) as helper:
            yield helper
        return
    if request.param == "mllab":
        contaxy = request.getfixturevalue("contaxy")
        settings = make_settings(contaxy_api_endpoint=contaxy.endpoint)
        async with open_api(settings, sign_up=contaxy.sign_up) as helper:
            yield helper
        return
    settings = make_settings(workspace_backend=request.param)
    backend: WorkspaceBackend
    if request.param == "docker":
        request.getfixturevalue("engine")
        backend = DockerBackend(settings)
    else:
        backend = InMemoryBackend()
    async with open_api(settings, backend) as helper:
        yield helper
