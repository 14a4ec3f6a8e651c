"""Shared fixtures: settings for tests, an app on the in-memory backend, and the real engine.

Tests that need the Docker engine fail (never skip) when it is missing: CI must run them.
Everything a test creates on the engine carries a per-session instance label and is removed
by label at the end of the session.

Helpers and constants (`make_settings`, the image names, the session's instance label, ...)
are in `tests.support`.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest

from lab_workspace_manager.settings import Settings
from tests.support.contaxy_server import Contaxy, contaxy_server
from tests.support.engine import remove_everything
from tests.support.images import (
    ALT_IMAGE,
    ATTACKER_IMAGE,
    CRASH_IMAGE,
    ECHO_IMAGE,
    OOM_IMAGE,
    TEST_IMAGE,
)
from tests.support.manager_image import IMAGE as MANAGER_IMAGE
from tests.support.manager_image import Manager, start_manager
from tests.support.postgres import postgres
from tests.support.settings import SESSION_INSTANCE, environment_of, make_settings
from tests.support.swarm_cluster import (
    NODE_NAMES,
    SOCKET_DIR,
    SWARM_SETTINGS,
    Cluster,
    pull_as,
    running_cluster,
    swarm_settings,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A real PostgreSQL for the session."""
    try:
        with postgres() as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    """The real Docker engine; the session fails loudly if it is not there."""
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock", version="1.41")
    try:
        client.ping()
    except Exception as exc:  # the message matters more than the type here
        pytest.fail(f"These tests need a running Docker engine: {exc}")
    for image in (TEST_IMAGE, CRASH_IMAGE, OOM_IMAGE, ECHO_IMAGE, ATTACKER_IMAGE):
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            pytest.fail(f"Test image {image} is missing: run 'python3 build.py --images'.")
    client.images.get(TEST_IMAGE).tag(ALT_IMAGE)
    yield client
    remove_everything(client, SESSION_INSTANCE)
    client.close()


@pytest.fixture(scope="session")
def contaxy(
    engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Contaxy]:
    """A real ML Lab backend (contaxy 0.0.23 + PostgreSQL) for the whole session."""
    log = tmp_path_factory.mktemp("contaxy") / "contaxy.log"
    try:
        server = contaxy_server(log)
        running = server.__enter__()
    except RuntimeError as exc:
        pytest.fail(f"ML Lab-mode tests need contaxy and PostgreSQL: {exc}")
    try:
        yield running
    finally:
        server.__exit__(None, None, None)


# The test images every node of the test swarm has under their own names (as the host has
# them), so that the swarm's tests use the same settings as the others.
SWARM_IMAGES = (TEST_IMAGE, CRASH_IMAGE, OOM_IMAGE, ALT_IMAGE)


@pytest.fixture(scope="session")
def swarm(engine: docker.DockerClient) -> Iterator[Cluster]:
    """A real three-node Docker Swarm (`tests.support.swarm_cluster`), for the session."""
    try:
        engine.images.get(MANAGER_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{MANAGER_IMAGE} is missing: run 'python3 build.py --make'.")
    with running_cluster(engine, [*SWARM_IMAGES, MANAGER_IMAGE]) as cluster:
        with ThreadPoolExecutor(len(NODE_NAMES)) as pool:
            wanted = [(n, i) for n in NODE_NAMES for i in (*SWARM_IMAGES, MANAGER_IMAGE)]
            list(pool.map(lambda ni: pull_as(cluster, *ni), wanted))
        yield cluster


@pytest.fixture(scope="session")
def swarm_manager(swarm: Cluster) -> Iterator[Manager]:
    """The manager's image running on node1 with the Swarm backend: the only way to reach
    workspaces on the swarm's overlay networks (its proxy, its readiness probes)."""
    node1 = swarm.client("node1")
    settings = swarm_settings(swarm, SESSION_INSTANCE)
    manager = start_manager(
        node1,
        environment=environment_of(settings, *SWARM_SETTINGS),
        docker_socket=f"{SOCKET_DIR}/docker.sock",
        address=swarm.addresses["node1"],
        mounts=[str(swarm.folder)],
    )
    yield manager
    manager.container.remove(force=True, v=True)
