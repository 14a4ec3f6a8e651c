"""The built image (`lab-workspace-manager:latest`, made by `build.py --make`), started on the
real engine with the socket mounted, reached on a loopback port like a user would."""

from __future__ import annotations

import json
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

import docker
import httpx
import pytest

from tests.support.engine import remove_everything
from tests.support.images import ATTACKER_IMAGE, ECHO_IMAGE, TEST_IMAGE
from tests.support.settings import SESSION_INSTANCE

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

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def browser_url(self) -> str:
        """The manager as a browser on this machine opens it: at `lab.localhost` (where
        `localhost` sends it), so that the workspaces' origins (`<id>.lab.localhost`) are of
        the same site, as in a deployment (`lab.example.org`, `<id>.lab.example.org`)."""
        return f"http://lab.localhost:{self.port}"

    def workspace_host(self, workspace_id: str) -> str:
        """The workspace's own host (WORKSPACE_HOST's default, `{id}.lab.localhost`) on the
        port the manager is reached at. Browsers resolve *.localhost to the loopback address;
        Python does not, so clients connect to the manager and send this Host."""
        return f"{workspace_id}.lab.localhost:{self.port}"

    def workspace_url(self, workspace_id: str) -> str:
        return f"http://{self.workspace_host(workspace_id)}"

    def workspace_client(self, workspace_id: str, token: str | None = None) -> httpx.Client:
        """A client on a workspace's origin: a script's, with its token in a header."""
        client = self.client(token)
        client.headers["Host"] = self.workspace_host(workspace_id)
        return client

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
    port: int | None = None,
    address: str = "127.0.0.1",
    mounts: list[str] | None = None,
) -> Manager:
    """`docker_socket`: the host path of the engine's socket (a private engine's, for the
    benchmarks); `network`: a network to start on (an engine without a default bridge);
    `port`: the port to publish it on (any free one by default), on `address` of the engine's
    host (a swarm node's address for a manager on that node); `mounts`: more folders of
    the engine's host, by path, at the same path."""
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
        ports={"8080/tcp": (address, port)},
        volumes={
            docker_socket: {"bind": "/var/run/docker.sock", "mode": "rw"},
            **{path: {"bind": path, "mode": "rw"} for path in mounts or []},
        },
        network=network,
        environment={
            "ADMIN_TOKEN": admin_token,
            "WORKSPACE_MANAGER_INSTANCE": instance,
            "WORKSPACE_IMAGE_DEFAULT": TEST_IMAGE,
            "WORKSPACE_IMAGE_PULL": "false",
            "WORKSPACE_MEMORY_MB_MIN": "32",
            "WORKSPACE_IMAGE_OPTIONS": json.dumps([ECHO_IMAGE, ATTACKER_IMAGE]),
            **(environment or {}),
        },
        labels={"lwm.instance": SESSION_INSTANCE, **(labels or {})},
    )
    container.reload()
    port = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
    manager = Manager(container, f"http://{address}:{port}", admin_token, instance)
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def behind_a_proxy(environment: dict[str, str]) -> tuple[dict[str, str], int]:
    """Settings and a port for a manager whose web app is reached through another proxy (ML
    Lab's, under a path prefix), which cannot route workspace hosts: their origins reach the
    manager's port directly, and WORKSPACE_HOST must say which port that is."""
    port = free_port()
    return {"WORKSPACE_HOST": f"{{id}}.lab.localhost:{port}", **environment}, port


def stop_manager(engine: docker.DockerClient, manager: Manager) -> None:
    """The manager, and every workspace it made."""
    manager.container.remove(force=True, v=True)  # v: its anonymous /data volume too
    remove_everything(engine, manager.instance)
