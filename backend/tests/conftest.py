"""Shared fixtures: settings for tests, an app on the in-memory backend, and the real engine.

Tests that need the Docker engine fail (never skip) when it is missing: CI must run them.
Everything a test creates on the engine carries a per-session instance label and is removed
by label at the end of the session.

Helpers and constants (`make_settings`, the image names, the session's instance label, ...)
are in `tests.support`.
"""

from __future__ import annotations

from collections.abc import Iterator

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
from tests.support.settings import SESSION_INSTANCE, make_settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings() -> Settings:
    return make_settings()


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
