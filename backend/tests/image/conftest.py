"""The built image (`lab-workspace-manager:latest`, made by `build.py --make`), started on the
real engine with the socket mounted, reached on a loopback port like a user would."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker
import httpx
import pytest

from tests.conftest import ECHO_IMAGE, SESSION_INSTANCE, TEST_IMAGE, remove_everything

IMAGE = "lab-workspace-manager:latest"


@dataclass
class Manager:
    container: Any
    url: str
    admin_token: str
    instance: str

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120, trust_env=False)

    def token_for(self, user: str) -> str:
        with self.client(self.admin_token) as admin:
            response = admin.post("/api/auth/tokens", json={"user_id": user})
            assert response.status_code == 201, response.text
            return str(response.json()["token"])


def start_manager(
    engine: docker.DockerClient,
    environment: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    name: str | None = None,
    docker_socket: str = "/var/run/docker.sock",
    network: str | None = None,
) -> Manager:
    """`docker_socket`: the host path of the engine's socket (a private engine's, for the
    benchmarks); `network`: a network to start on (an engine without a default bridge)."""
    try:
        engine.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{IMAGE} is missing: run 'python3 build.py --make'.")
    admin_token = "admin-" + secrets.token_hex(8)
    # Its own instance label, inside this session's: cleaned up with everything else.
    instance = SESSION_INSTANCE[:8] + secrets.token_hex(2)
    container = engine.containers.run(
        IMAGE,
        detach=True,
        name=name or f"{instance}-manager",
        ports={"8080/tcp": ("127.0.0.1", None)},
        volumes={docker_socket: {"bind": "/var/run/docker.sock", "mode": "rw"}},
        network=network,
        environment={
            "ADMIN_TOKEN": admin_token,
            "WORKSPACE_MANAGER_INSTANCE": instance,
            "WORKSPACE_IMAGE_DEFAULT": TEST_IMAGE,
            "WORKSPACE_IMAGE_PULL": "false",
            "WORKSPACE_MEMORY_MB_MIN": "32",
            "WORKSPACE_IMAGE_OPTIONS": json.dumps([ECHO_IMAGE]),
            **(environment or {}),
        },
        labels={"lwm.instance": SESSION_INSTANCE, **(labels or {})},
    )
    container.reload()
    port = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
    manager = Manager(container, f"http://127.0.0.1:{port}", admin_token, instance)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(manager.url + "/api/healthz", trust_env=False).status_code == 200:
                return manager
        except httpx.HTTPError:
            pass
        container.reload()
        if container.status != "running" or time.monotonic() > deadline:
            logs = container.logs().decode(errors="replace")[-3000:]
            container.remove(force=True, v=True)
            pytest.fail(f"the manager image did not start:\n{logs}")
        time.sleep(0.3)


def stop_manager(engine: docker.DockerClient, manager: Manager) -> None:
    """The manager, and every workspace it made."""
    manager.container.remove(force=True, v=True)  # v: its anonymous /data volume too
    remove_everything(engine, manager.instance)


@pytest.fixture(scope="module")
def manager(engine: docker.DockerClient) -> Iterator[Manager]:
    running = start_manager(engine)
    yield running
    stop_manager(engine, running)
