"""What every benchmark works with: the engine, the manager on it, and signed-in users."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.image.conftest import Manager

from .engine import Target

# What every workspace of the benchmarks gets, through the manager and by raw `docker run`.
CPUS = 1.0
MEMORY_MB = 1000
SHM_MB = 512  # the manager's default WORKSPACE_SHM_SIZE_MB
PIDS_LIMIT = 4096  # the manager's default WORKSPACE_PIDS_LIMIT


@dataclass
class Bench:
    target: Target
    manager: Manager
    url: str  # the manager's port 8080 at its address on the engine's network
    quick: bool
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, user: str) -> str:
        if user not in self._tokens:
            self._tokens[user] = self.manager.token_for(user)
        return self._tokens[user]

    def auth(self, user: str | None = None) -> dict[str, str]:
        """Headers signed in as `user` (the administrator if None)."""
        token = self.token(user) if user else self.manager.admin_token
        return {"Authorization": f"Bearer {token}"}

    def client(self, user: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers=self.auth(user), timeout=300, trust_env=False
        )

    def create(
        self, client: httpx.Client, user: str, wait: bool = False, **body: Any
    ) -> dict[str, Any]:
        body.setdefault("compute", {"cpus": CPUS, "memory": MEMORY_MB})
        response = client.post(
            f"/api/users/{user}/workspace", json=body, params={"wait": "true"} if wait else None
        )
        if response.status_code != 201:
            raise RuntimeError(f"create failed: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def delete(self, client: httpx.Client, user: str, workspace_id: str) -> None:
        response = client.delete(
            f"/api/users/{user}/workspace/{workspace_id}", params={"delete_volumes": "true"}
        )
        if response.status_code != 204:
            raise RuntimeError(f"delete failed: {response.status_code} {response.text}")

    def workspace_address(self, workspace_id: str) -> str:
        """The workspace container's address on its owner's network (for direct requests)."""
        wanted = [f"lwm.workspace={workspace_id}", "lwm.kind=workspace"]
        (summary,) = self.target.client.api.containers(filters={"label": wanted})
        networks = summary["NetworkSettings"]["Networks"]
        return str(next(iter(networks.values()))["IPAddress"])
