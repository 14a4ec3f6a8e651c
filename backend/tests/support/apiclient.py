"""An HTTP client on the manager's app, for tests that drive it through its API."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from lab_workspace_manager.app import create_app
from lab_workspace_manager.auth.standalone import StandaloneAuth
from lab_workspace_manager.backends import WorkspaceBackend
from lab_workspace_manager.backends.docker.backend import DockerBackend
from lab_workspace_manager.backends.swarm.backend import SwarmBackend
from lab_workspace_manager.settings import Settings


class Api:
    """A signed-in user's HTTP client on the app, and the backend behind it.

    Standalone sign-in by default: a token is issued for the user as an administrator would.
    """

    def __init__(
        self,
        app: FastAPI | None,
        backend: WorkspaceBackend,
        settings: Settings,
        user: str | None = None,
        token: str | None = None,
        is_admin: bool = False,
        sign_up: SignUp | None = None,
        url: str | None = None,
    ) -> None:
        """`app` in this process, or (app None) a manager's API at `url` over HTTP."""
        self.app = app
        self.backend = backend
        self.settings = settings
        self.url = url
        assert app is not None or (url and sign_up), "an app, or a URL and a sign-up"
        self._sign_up = sign_up or standalone_sign_up(app)  # type: ignore[arg-type]
        if token is None:
            user, token = self._sign_up(user, is_admin)
        self.user = user or "user-" + secrets.token_hex(3)
        self.token = token
        headers = {"Authorization": f"Bearer {self.token}"}
        if app is not None:
            self.client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://manager",
                timeout=120,
                headers=headers,
            )
        else:
            self.client = httpx.AsyncClient(
                base_url=f"{url}/api", timeout=120, headers=headers, trust_env=False
            )
        self._others: list[Api] = []

    def as_user(self, user: str | None = None, is_admin: bool = False) -> Api:
        """Another signed-in user on the same app."""
        other = Api(
            self.app,
            self.backend,
            self.settings,
            user,
            is_admin=is_admin,
            sign_up=self._sign_up,
            url=self.url,
        )
        self._others.append(other)
        return other

    async def aclose(self) -> None:
        for other in self._others:
            await other.aclose()
        await self.client.aclose()

    def restarted_backend(self, settings: Settings) -> WorkspaceBackend:
        """What a manager started again with `settings` would use: the same engine (or, for
        the fake, the same memory)."""
        if isinstance(self.backend, DockerBackend):
            return DockerBackend(settings)
        if self.backend.name == "swarm":
            return SwarmBackend(settings)
        return self.backend  # the fake's memory; ML Lab keeps no state in the backend

    def user_path(self, tail: str) -> str:
        return f"/users/{self.user}/{tail}"

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
        for api in [self, *self._others]:
            listing = await api.client.get(api.path())
            for workspace in listing.json() if listing.status_code == 200 else []:
                await api.client.delete(
                    api.path(workspace["id"]), params={"delete_volumes": "true"}
                )

    async def names(self) -> list[str]:
        response = await self.client.get(self.path())
        assert response.status_code == 200, response.text
        return [w["display_name"] for w in response.json()]


# Makes a signed-in user: (user id or None for a new one, admin?) -> (user id, token).
SignUp = Callable[[str | None, bool], tuple[str, str]]


def standalone_sign_up(app: FastAPI) -> SignUp:
    def sign_up(user: str | None, is_admin: bool) -> tuple[str, str]:
        user = user or "user-" + secrets.token_hex(3)
        return user, issue_token(app, user, is_admin)

    return sign_up


def http_sign_up(url: str, admin_token: str) -> SignUp:
    """Users of a manager reached over HTTP: tokens issued by its administrator."""

    def sign_up(user: str | None, is_admin: bool) -> tuple[str, str]:
        user = user or "user-" + secrets.token_hex(3)
        response = httpx.post(
            f"{url}/api/auth/tokens",
            json={"user_id": user, "is_admin": is_admin},
            headers={"Authorization": f"Bearer {admin_token}"},
            trust_env=False,
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return user, str(response.json()["token"])

    return sign_up


def issue_token(app: FastAPI, user: str, is_admin: bool = False) -> str:
    authenticator = app.state.runtime.authenticator
    assert isinstance(authenticator, StandaloneAuth)
    token, _ = authenticator.issue(user, None, is_admin, "test")
    return token


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """The app with its start-up and shutdown run, as a server would run them."""
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def app_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An unauthenticated client on the running app; `client.app` is the app."""
    async with (
        running(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://manager"
        ) as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        yield client


@asynccontextmanager
async def open_api(
    settings: Settings,
    backend: WorkspaceBackend | None = None,
    token: str | None = None,
    user: str | None = None,
    sign_up: SignUp | None = None,
) -> AsyncIterator[Api]:
    """A signed-in user on a fresh app; what the test created is deleted afterwards."""
    async with running(create_app(settings, backend)) as app:
        api = Api(app, app.state.runtime.backend, settings, user=user, token=token, sign_up=sign_up)
        try:
            yield api
        finally:
            await api.delete_all()
            await api.aclose()


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
