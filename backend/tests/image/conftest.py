"""The `manager` fixture: the built image on the real engine (`tests.support.manager_image`)."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from tests.support.manager_image import Manager, start_manager, stop_manager


@pytest.fixture(scope="module")
def manager(engine: docker.DockerClient) -> Iterator[Manager]:
    running = start_manager(engine)
    yield running
    stop_manager(engine, running)
