"""A real ML Lab backend (contaxy 0.0.23) with its own PostgreSQL, on loopback, for tests.

contaxy pins old libraries, so it lives in a virtualenv of its own (`.venv-contaxy` at the
repository root, made by `build.py`). PostgreSQL is Debian's, in a throwaway cluster
(`tests.support.postgres`). Both run as subprocesses on free ports and are stopped (and their
data removed) afterwards.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.manager_image import free_port
from tests.support.postgres import postgres

ROOT = Path(__file__).resolve().parents[3]
CONTAXY_VENV = ROOT / ".venv-contaxy"


@dataclass
class Contaxy:
    endpoint: str
    namespace: str
    admin_token: str
    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (id, token)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        return httpx.Client(base_url=self.endpoint, headers=headers, timeout=60, trust_env=False)

    def sign_up(self, user: str | None, is_admin: bool) -> tuple[str, str]:
        """For `tests.support.apiclient.Api`: a new ML Lab user, or ML Lab's administrator."""
        if is_admin:
            with self.client() as admin:
                admin_id = admin.get("/users/me").json()["id"]
            return str(admin_id), self.admin_token
        return self.add_user("u" + secrets.token_hex(4))

    def add_user(self, name: str) -> tuple[str, str]:
        """A new ML Lab user and a login token of theirs: (user id, token)."""
        password = secrets.token_hex(8)
        with self.client() as admin:
            created = admin.post("/users", json={"username": name, "password": password})
            created.raise_for_status()
        user_id = created.json()["id"]
        token = login(self.endpoint, name, password)
        self.users[name] = (user_id, token)
        return user_id, token


def login(endpoint: str, username: str, password: str) -> str:
    response = httpx.post(
        f"{endpoint}/auth/oauth/token",
        data={"grant_type": "password", "username": username, "password": password},
        trust_env=False,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


@contextlib.contextmanager
def contaxy_server(log_path: Path) -> Iterator[Contaxy]:
    """contaxy with PostgreSQL and the local Docker engine, initialised, with admin/admin."""
    uvicorn = CONTAXY_VENV / "bin" / "uvicorn"
    if not uvicorn.exists():
        raise RuntimeError(f"contaxy is not installed in {CONTAXY_VENV}: run 'build.py --test'")
    namespace = "ct" + secrets.token_hex(3)
    with postgres() as database:
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CONTAXY_", "PYTHON"))},
            "POSTGRES_CONNECTION_URI": database,
            "DEPLOYMENT_MANAGER": "docker",
            "SYSTEM_NAMESPACE": namespace,
            "CONTAXY_API_ENDPOINT": endpoint,
            "JWT_TOKEN_SECRET": secrets.token_hex(16),
        }
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [str(uvicorn), "contaxy.api:app", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tempfile.gettempdir(),
            )
        try:
            _initialise(endpoint, process, log_path)
            yield Contaxy(endpoint, namespace, login(endpoint, "admin", "admin"))
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            _remove_deployments(namespace)


def _initialise(endpoint: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"contaxy exited at start:\n{log_path.read_text()[-3000:]}")
        try:
            response = httpx.post(f"{endpoint}/system/initialize", trust_env=False, timeout=10)
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        if response.status_code in (200, 204):
            return
        raise RuntimeError(f"contaxy initialisation failed: {response.status_code} {response.text}")
    raise RuntimeError(f"contaxy did not start in 90 s:\n{log_path.read_text()[-3000:]}")


def _remove_deployments(namespace: str) -> None:
    """Containers and volumes contaxy made for this test namespace."""
    import docker

    client = docker.DockerClient(base_url="unix:///var/run/docker.sock", version="1.41")
    try:
        label = {"label": f"ctxy.namespace={namespace}"}
        for container in client.containers.list(all=True, filters=label):
            container.remove(force=True)
        for volume in client.volumes.list(filters=label):
            volume.remove(force=True)
        for network in client.networks.list(filters=label):
            with contextlib.suppress(docker.errors.APIError):  # best effort, at the very end
                network.remove()
    finally:
        client.close()
