"""What every benchmark works with: the engine, the manager on it, and signed-in users."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.manager_image import Manager

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
    _turns: dict[str, list[str]] = field(default_factory=dict)

    def token(self, user: str) -> str:
        if user not in self._tokens:
            self._tokens[user] = self.manager.token_for(user)
        return self._tokens[user]

    def authorizations(self, user: str, count: int = 128) -> list[str]:
        """Authorization headers of `count` tokens of `user`, for wrk to take turns with
        (issued at 40 a second: the administrator's requests are limited too)."""
        if user not in self._turns:
            turns = []
            for _ in range(count):
                turns.append(f"Bearer {self.manager.token_for(user)}")
                time.sleep(0.025)
            self._turns[user] = turns
        return self._turns[user]

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

    def workspace_host(self, workspace_id: str) -> str:
        """The workspace's own host (WORKSPACE_HOST's default) on the manager's port."""
        return f"{workspace_id}.lab.localhost:{self.url.rsplit(':', 1)[1]}"

    def browser_headers(self, client: httpx.Client, user: str, workspace_id: str) -> dict[str, str]:
        """What a browser sends to a workspace it opened from the web app: its own Host and the
        session cookie the hand-off gave it (`:open`, then the code on the workspace's host)."""
        opened = client.post(f"/api/users/{user}/workspace/{workspace_id}:open")
        if opened.status_code != 200:
            raise RuntimeError(f":open failed: {opened.status_code} {opened.text}")
        link = httpx.URL(opened.json()["url"])
        host = {"Host": self.workspace_host(workspace_id)}
        with httpx.Client(base_url=self.url, headers=host, trust_env=False) as browser:
            handed = browser.get(link.raw_path.decode())
        # (`__Host-workspace_session` on *.localhost; httpx keeps Secure cookies for https.)
        cookie = handed.headers.get("set-cookie", "").split(";")[0]
        if handed.status_code != 303 or "workspace_session=" not in cookie:
            raise RuntimeError(f"hand-off failed: {handed.status_code} {handed.text}")
        return {**host, "Cookie": cookie}

    def workspace_address(self, workspace_id: str) -> str:
        """The workspace container's address on its owner's network (for direct requests)."""
        wanted = [f"lwm.workspace={workspace_id}", "lwm.kind=workspace"]
        (summary,) = self.target.client.api.containers(filters={"label": wanted})
        networks = summary["NetworkSettings"]["Networks"]
        return str(next(iter(networks.values()))["IPAddress"])
