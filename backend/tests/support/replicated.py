"""The manager deployed on the test swarm as `docker/stack.yml` deploys it (two replicas
sharing a real PostgreSQL), with a real nginx in front as the load balancer.

The stack is deployed with the repository's own file; a second compose file adds only what
this machine needs (the nodes' engines' sockets, the test images and limits, host-mode ports:
and a published port of its own). The load balancer is the manager image's nginx on the host,
with the three nodes as upstreams: a node without a replica (or with a killed one) refuses
connections, and nginx tries the next.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx

from tests.support.images import ATTACKER_IMAGE, ECHO_IMAGE, TEST_IMAGE
from tests.support.manager_image import IMAGE as MANAGER_IMAGE
from tests.support.manager_image import Manager, free_port
from tests.support.postgres import postgres
from tests.support.settings import SESSION_INSTANCE, environment_of
from tests.support.swarm_cluster import (
    NODE_NAMES,
    SOCKET_DIR,
    SWARM_SETTINGS,
    Cluster,
    swarm_settings,
)

STACK_FILE = Path(__file__).resolve().parents[3] / "docker" / "stack.yml"
PORT = 8080  # published by each replica on its node (host mode)

LOAD_BALANCER = """
worker_processes 1;
pid /tmp/lb.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
    access_log off;
    upstream managers {
        %(servers)s
    }
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    server {
        listen 8080;
        location / {
            proxy_pass http://managers;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_read_timeout 300s;
            proxy_buffering off;
        }
    }
}
"""


@dataclass
class Replicated:
    cluster: Cluster
    stack: str
    instance: str
    admin_token: str
    database_url: str
    front: Manager  # through the load balancer

    @property
    def service(self) -> str:
        return f"{self.stack}_manager"

    def replicas(self) -> dict[str, Manager]:
        """node name -> the manager running there, reached directly (not balanced)."""
        found = {}
        for task in self._running_tasks():
            node = self.cluster.hostname_of(task["NodeID"])
            url = f"http://{self.cluster.addresses[node]}:{PORT}"
            found[node] = Manager(None, url, self.admin_token, self.instance)
        return found

    def _running_tasks(self) -> list[dict[str, Any]]:
        client = self.cluster.client("node1")
        tasks = client.api.tasks(filters={"service": self.service, "desired-state": "running"})
        return [t for t in tasks if t["Status"]["State"] == "running"]

    def kill(self, node: str) -> None:
        """Kill the manager on `node` (as a crash would: SIGKILL, no goodbye)."""
        self.cluster.client(node).api.kill(f"{self.service}-on-{node}")

    def wait_replicas(self, count: int = 2, timeout: float = 120) -> dict[str, Manager]:
        """The replicas, once `count` of them answer."""
        deadline = time.monotonic() + timeout
        while True:
            replicas = self.replicas()
            answering = {node: r for node, r in replicas.items() if _answers(r.url)}
            if len(answering) >= count:
                return answering
            if time.monotonic() > deadline:
                logs = _docker(self.cluster, "service", "logs", "--tail", "40", self.service)
                raise AssertionError(f"{count} replicas did not answer: {replicas}\n{logs}")
            time.sleep(0.5)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/healthz", timeout=3, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _docker(cluster: Cluster, *arguments: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["docker", "-H", cluster.socket("node1"), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(arguments)}: {done.stderr[-3000:]}")
    return done.stdout + done.stderr


@contextlib.contextmanager
def replicated_manager(
    engine: docker.DockerClient, cluster: Cluster, **settings: object
) -> Iterator[Replicated]:
    """The stack deployed, two replicas answering, the load balancer in front."""
    instance = SESSION_INSTANCE[:8] + secrets.token_hex(2)
    stack = f"{cluster.name}-m".replace("-", "_")
    admin_token = "admin-" + secrets.token_hex(8)
    with (
        postgres(address=cluster.gateway, clients=cluster.subnet) as database_url,
        tempfile.TemporaryDirectory(prefix="lwm-stack-") as folder,
        load_balancer(engine, cluster) as front,
    ):
        environment = environment_of(swarm_settings(cluster, instance, **settings), *SWARM_SETTINGS)
        environment["WORKSPACE_IMAGE_OPTIONS"] = json.dumps([ECHO_IMAGE, ATTACKER_IMAGE])
        environment["WORKSPACE_IMAGE_DEFAULT"] = TEST_IMAGE
        override = Path(folder) / "test.yml"
        override.write_text(
            json.dumps(
                {
                    "version": "3.8",
                    "services": {
                        "manager": {
                            "volumes": [
                                f"{SOCKET_DIR}/docker.sock:/var/run/docker.sock",
                                f"{cluster.folder}:{cluster.folder}",
                            ],
                            "environment": environment,
                        }
                    },
                }
            )
        )
        _docker(
            cluster,
            "stack",
            "deploy",
            "--resolve-image",
            "never",
            "-c",
            str(STACK_FILE),
            "-c",
            str(override),
            stack,
            env={
                "DATABASE_URL": database_url,
                "MANAGER_IMAGE": MANAGER_IMAGE,
                "ADMIN_TOKEN": admin_token,
                "WORKSPACE_MANAGER_INSTANCE": instance,
            },
        )
        replicated = Replicated(
            cluster,
            stack,
            instance,
            admin_token,
            database_url,
            front=Manager(None, front, admin_token, instance),
        )
        try:
            replicated.wait_replicas()
            yield replicated
        finally:
            with contextlib.suppress(RuntimeError):
                _docker(cluster, "stack", "rm", stack)
            _remove_workspaces(cluster, instance)


def _remove_workspaces(cluster: Cluster, instance: str) -> None:
    client = cluster.client("node1")
    for service in client.api.services(filters={"label": f"lwm.instance={instance}"}):
        with contextlib.suppress(docker.errors.APIError):
            client.api.remove_service(service["ID"])


@contextlib.contextmanager
def load_balancer(engine: docker.DockerClient, cluster: Cluster) -> Iterator[str]:
    """nginx (the manager image's) on the host, balancing over the three nodes' port 8080;
    its URL on loopback."""
    servers = "\n        ".join(
        f"server {cluster.addresses[node]}:{PORT} max_fails=1 fail_timeout=3s;"
        for node in NODE_NAMES
    )
    with tempfile.TemporaryDirectory(prefix="lwm-lb-") as folder:
        (Path(folder) / "nginx.conf").write_text(LOAD_BALANCER % {"servers": servers})
        os.chmod(folder, 0o755)
        port = free_port()
        container = engine.containers.run(
            MANAGER_IMAGE,
            ["-c", "/lb/nginx.conf", "-g", "daemon off;"],
            entrypoint=["nginx"],
            detach=True,
            name=f"{cluster.name}-lb",
            network=cluster.network,
            ports={"8080/tcp": ("127.0.0.1", port)},
            volumes={folder: {"bind": "/lb", "mode": "ro"}},
            labels={"lwm.instance": SESSION_INSTANCE},
        )
        try:
            url = f"http://127.0.0.1:{port}"
            container.reload()
            if container.status != "running":
                raise AssertionError(f"the load balancer did not start: {container.logs()}")
            yield url
        finally:
            container.remove(force=True)
