"""Shared fixtures: settings for tests, an app on the in-memory backend, and the real engine.

Tests that need the Docker engine fail (never skip) when it is missing: CI must run them.
Everything a test creates on the engine carries a per-session instance label and is removed
by label at the end of the session.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from lab_workspace_manager.backends.docker import labels as L
from lab_workspace_manager.settings import Settings
from tests.contaxy_server import Contaxy, contaxy_server

TEST_IMAGE = "lwm-test-workspace:latest"
CRASH_IMAGE = "lwm-test-crash:latest"
OOM_IMAGE = "lwm-test-oom:latest"
ECHO_IMAGE = "lwm-test-echo:latest"
ATTACKER_IMAGE = "lwm-test-attacker:latest"
# The test workspace under a second name: an "image change" that still starts a workspace.
ALT_IMAGE = "lwm-test-workspace:alt"
# One instance label per test session: tests never see or touch anything else on the engine.
SESSION_INSTANCE = "t" + secrets.token_hex(4)
ADMIN_TOKEN = "test-admin-token-" + secrets.token_hex(8)
DATA_DIR = Path(tempfile.mkdtemp(prefix="lwm-test-data-"))


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
        "admin_token": ADMIN_TOKEN,
        "jwt_secret": "test-jwt-secret-" + SESSION_INSTANCE,
        "data_dir": DATA_DIR,
    }
    values.update(overrides)
    return Settings(**values)


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


def bridge_gateway(engine: docker.DockerClient) -> str:
    """The host's address on Docker's default bridge, where the manager's container starts.

    Read from the bridge's interface on this host: a freshly started engine's `bridge` network
    names a Subnet but no Gateway in its IPAM config (Debian's docker.io 20.10); only an engine
    that has been restarted on the same data root fills it in."""
    options = engine.networks.get("bridge").attrs.get("Options") or {}
    interface = options.get("com.docker.network.bridge.name", "docker0")
    shown = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "dev", interface],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", shown)
    assert found, f"the bridge interface {interface} has no IPv4 address: {shown!r}"
    return found.group(1)
