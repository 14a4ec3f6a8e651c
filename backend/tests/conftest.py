"""Shared fixtures: settings for tests, an app on the in-memory backend, and the real engine.

Tests that need the Docker engine fail (never skip) when it is missing: CI must run them.
Everything a test creates on the engine carries a per-session instance label and is removed
by label at the end of the session.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import docker
import httpx
import pytest

from lab_workspace_manager.app import create_app
from lab_workspace_manager.backends.docker import labels as L
from lab_workspace_manager.backends.memory import InMemoryBackend
from lab_workspace_manager.settings import Settings

TEST_IMAGE = "lwm-test-workspace:latest"
CRASH_IMAGE = "lwm-test-crash:latest"
OOM_IMAGE = "lwm-test-oom:latest"
# The test workspace under a second name: an "image change" that still starts a workspace.
ALT_IMAGE = "lwm-test-workspace:alt"
# One instance label per test session: tests never see or touch anything else on the engine.
SESSION_INSTANCE = "t" + secrets.token_hex(4)


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "workspace_backend": "memory",
        "instance_id": SESSION_INSTANCE,
        "workspace_image_default": TEST_IMAGE,
        "workspace_image_default_display_name": "Test workspace",
        "workspace_image_options": [
            {"image": CRASH_IMAGE, "display_name": "Crashes at start"},
            {"image": OOM_IMAGE, "display_name": "Runs out of memory"},
            {"image": ALT_IMAGE, "display_name": "Test workspace, second tag"},
        ],
        "workspace_image_pull": False,
        "cpus_default": 0.5,
        "cpus_max": 2,
        "memory_default": 256,
        "memory_min": 32,
        "memory_max": 2000,
        "volume_size_default": 500,
        "volume_size_max": 2000,
        "workspace_ready_timeout": 60,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
async def memory_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, InMemoryBackend(settings.workspace_public_prefix))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://manager") as client:
        yield client


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    """The real Docker engine; the session fails loudly if it is not there."""
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock", version="1.41")
    try:
        client.ping()
    except Exception as exc:  # the message matters more than the type here
        pytest.fail(f"These tests need a running Docker engine: {exc}")
    for image in (TEST_IMAGE, CRASH_IMAGE, OOM_IMAGE):
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            pytest.fail(f"Test image {image} is missing: run 'python3 build.py --images'.")
    client.images.get(TEST_IMAGE).tag(ALT_IMAGE)
    yield client
    remove_everything(client, SESSION_INSTANCE)
    client.close()


def remove_everything(client: docker.DockerClient, instance: str) -> None:
    mine = {"label": f"{L.INSTANCE}={instance}"}
    for container in client.containers.list(all=True, filters=mine):
        container.remove(force=True)
    for volume in client.volumes.list(filters=mine):
        volume.remove(force=True)
    for network in client.networks.list(filters=mine):
        network.remove()


def owned(
    client: docker.DockerClient, instance: str = SESSION_INSTANCE, **labels: str
) -> dict[str, list[str]]:
    """Names of everything on the engine that carries the instance label (and `labels`)."""
    wanted = [f"{L.INSTANCE}={instance}", *(f"lwm.{k}={v}" for k, v in labels.items())]
    filters = {"label": wanted}
    return {
        "containers": sorted(c.name for c in client.containers.list(all=True, filters=filters)),
        "volumes": sorted(v.name for v in client.volumes.list(filters=filters)),
        "networks": sorted(n.name for n in client.networks.list(filters=filters)),
    }
