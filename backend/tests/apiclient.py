"""An HTTP client on the manager's app, for tests that drive it through its API."""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx

from lab_workspace_manager.app import create_app
from lab_workspace_manager.backends import WorkspaceBackend
from lab_workspace_manager.backends.docker.backend import DockerBackend
from lab_workspace_manager.settings import Settings


class Api:
    """An HTTP client on the app, with the backend behind it and a fresh user of its own."""

    def __init__(self, client: httpx.AsyncClient, backend: WorkspaceBackend, settings: Settings):
        self.client = client
        self.backend = backend
        self.settings = settings
        self.user = "user-" + secrets.token_hex(3)

    def restarted_backend(self, settings: Settings) -> WorkspaceBackend:
        """What a manager started again with `settings` would use: the same engine (or, for
        the fake, the same memory)."""
        if isinstance(self.backend, DockerBackend):
            return DockerBackend(settings)
        return self.backend

    def path(self, workspace_id: str = "", user: str | None = None) -> str:
        base = f"/users/{user or self.user}/workspace"
        return f"{base}/{workspace_id}" if workspace_id else base

    async def create(self, expect: int = 201, user: str | None = None, **body: object) -> dict:
        response = await self.client.post(self.path(user=user), json=body)
        assert response.status_code == expect, response.text
        return response.json()

    async def create_running(self, **body: object) -> dict:
        response = await self.client.post(self.path(), params={"wait": "true"}, json=body)
        assert response.status_code == 201, response.text
        workspace = response.json()
        assert workspace["status"] == "running", workspace
        return workspace

    async def get(self, workspace_id: str) -> httpx.Response:
        return await self.client.get(self.path(workspace_id))

    async def action(self, workspace_id: str, verb: str, wait: bool = False) -> dict:
        response = await self.client.post(
            f"{self.path(workspace_id)}:{verb}", params={"wait": "true"} if wait else None
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def delete_all(self) -> None:
        listing = await self.client.get(self.path())
        for workspace in listing.json() if listing.status_code == 200 else []:
            await self.client.delete(self.path(workspace["id"]), params={"delete_volumes": "true"})

    async def names(self) -> list[str]:
        response = await self.client.get(self.path())
        assert response.status_code == 200, response.text
        return [w["display_name"] for w in response.json()]


def app_client(settings: Settings, backend: WorkspaceBackend) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(settings, backend))
    return httpx.AsyncClient(transport=transport, base_url="http://manager", timeout=120)


async def eventually(api: Api, workspace_id: str, predicate, timeout: float = 90) -> dict:
    """Poll the workspace until `predicate(workspace)` holds; fail with the last state."""
    deadline = time.monotonic() + timeout
    while True:
        workspace = (await api.get(workspace_id)).json()
        if predicate(workspace):
            return workspace
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting; last state: {workspace}")
        await asyncio.sleep(0.25)
