"""Opening a workspace on its own origin, at the API: `:open`, the hand-off, and the access
check that nginx asks before every request to a workspace's origin.

What nginx does around these (routing on the Host, stripping cookies, refusing foreign
origins) is tested against the built image (tests/reliability/test_security_image.py) and in
Chromium (tests/browser/test_workspace_origins.py)."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from lab_workspace_manager.app import create_app
from lab_workspace_manager.auth import workspace_sessions
from lab_workspace_manager.backends.memory import InMemoryBackend
from tests.support.apiclient import app_client, issue_token
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio

MANAGER = {"X-Forwarded-Host": "localhost:8080", "X-Forwarded-Proto": "http"}


class LocatingBackend(InMemoryBackend):
    """The in-memory fake, with an address for each running workspace, as the proxy needs."""

    async def locate(self, workspace_id: str) -> tuple[str, str] | None:
        for state in await self.list_workspaces(None):
            if state.id == workspace_id and state.access_url:
                return state.owner, f"10.0.0.9:{8080}"
        return None


@pytest.fixture
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    app = create_app(make_settings(**overrides), LocatingBackend())
    async with app_client(app) as client:
        yield client


def bearer(client: httpx.AsyncClient, user: str, is_admin: bool = False) -> dict[str, str]:
    token = issue_token(client.app, user, is_admin)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}"}


async def new_workspace(client: httpx.AsyncClient, user: str, headers: dict[str, str]) -> str:
    name = "ws-" + secrets.token_hex(3)
    made = await client.post(
        f"/users/{user}/workspace", json={"display_name": name}, headers=headers
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def open_link(
    client: httpx.AsyncClient, user: str, workspace_id: str, headers: dict[str, str]
) -> str:
    opened = await client.post(
        f"/users/{user}/workspace/{workspace_id}:open", headers={**headers, **MANAGER}
    )
    assert opened.status_code == 200, opened.text
    return str(opened.json()["url"])


def code_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["code"][0]


async def hand_off(client: httpx.AsyncClient, workspace_id: str, code: str) -> httpx.Response:
    return await client.get(
        "/auth/workspace-handoff",
        params={"code": code},
        headers={"X-Workspace-Id": workspace_id},
    )


async def access(
    client: httpx.AsyncClient, workspace_id: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.get(
        "/auth/workspace-access", headers={"X-Workspace-Id": workspace_id, **(headers or {})}
    )


async def session_for(
    client: httpx.AsyncClient, user: str, workspace_id: str, headers: dict[str, str]
) -> str:
    handed = await hand_off(
        client, workspace_id, code_of(await open_link(client, user, workspace_id, headers))
    )
    assert handed.status_code == 303, handed.text
    return str(handed.cookies[workspace_sessions.COOKIE_NAME])


async def test_open_links_to_the_workspaces_own_origin_with_a_code(
    client: httpx.AsyncClient,
) -> None:
    alice = bearer(client, "alice")
    workspace_id = await new_workspace(client, "alice", alice)
    link = urlsplit(await open_link(client, "alice", workspace_id, alice))
    # The port the browser used for the manager; the code is the only query.
    assert (link.scheme, link.netloc) == ("http", f"{workspace_id}.lab.localhost:8080")
    assert link.path == workspace_sessions.HANDOFF_PATH
    assert list(parse_qs(link.query)) == ["code"]
    assert alice["Authorization"].split()[1] not in link.query  # the token is not readable


@pytest.mark.parametrize("client", [{"workspace_host": "{id}.ws.example.org:8443"}], indirect=True)
async def test_the_host_template_may_fix_the_port(client: httpx.AsyncClient) -> None:
    alice = bearer(client, "alice")
    workspace_id = await new_workspace(client, "alice", alice)
    opened = await client.post(
        f"/users/alice/workspace/{workspace_id}:open",
        headers={**alice, "X-Forwarded-Host": "lab.example.org", "X-Forwarded-Proto": "https"},
    )
    assert urlsplit(opened.json()["url"]).netloc == f"{workspace_id}.ws.example.org:8443"
    assert opened.json()["url"].startswith("https://")


async def test_a_stopped_workspace_is_not_opened_and_says_so(client: httpx.AsyncClient) -> None:
    alice = bearer(client, "alice")
    workspace_id = await new_workspace(client, "alice", alice)
    await client.post(f"/users/alice/workspace/{workspace_id}:stop", headers=alice)
    refused = await client.post(f"/users/alice/workspace/{workspace_id}:open", headers=alice)
    assert refused.status_code == 409
    assert "start it" in refused.json()["detail"]


async def test_nobody_opens_another_users_workspace(client: httpx.AsyncClient) -> None:
    alice, bob = bearer(client, "alice"), bearer(client, "bob")
    workspace_id = await new_workspace(client, "alice", alice)
    refused = await client.post(f"/users/alice/workspace/{workspace_id}:open", headers=bob)
    assert refused.status_code == 403
    refused = await client.post(f"/users/bob/workspace/{workspace_id}:open", headers=bob)
    assert refused.status_code == 404


async def test_the_code_becomes_a_cookie_of_that_origin_once(client: httpx.AsyncClient) -> None:
    alice = bearer(client, "alice")
    workspace_id = await new_workspace(client, "alice", alice)
    code = code_of(await open_link(client, "alice", workspace_id, alice))

    handed = await hand_off(client, workspace_id, code)
    assert handed.status_code == 303
    assert handed.headers["location"] == f"/workspaces/{workspace_id}/"  # the code is gone
    cookie = handed.headers["set-cookie"].lower()
    assert cookie.startswith(f"{workspace_sessions.COOKIE_NAME}=")
    for attribute in ("httponly", "samesite=lax", "path=/"):
        assert attribute in cookie
    assert "domain=" not in cookie  # this host only

    again = await hand_off(client, workspace_id, code)
    assert again.status_code == 401
    assert "used already" in again.json()["detail"]


async def test_a_code_opens_only_its_workspace_and_expires(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = bearer(client, "alice")
    first = await new_workspace(client, "alice", alice)
    second = await new_workspace(client, "alice", alice)
    code = code_of(await open_link(client, "alice", first, alice))
    assert (await hand_off(client, second, code)).status_code == 401
    assert (await hand_off(client, first, code + "x")).status_code == 401

    late = code_of(await open_link(client, "alice", first, alice))
    now = time.time()
    monkeypatch.setattr(workspace_sessions.time, "time", lambda: now + 61)
    expired = await hand_off(client, first, late)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


async def test_the_session_opens_its_workspace_and_no_other(client: httpx.AsyncClient) -> None:
    alice, bob = bearer(client, "alice"), bearer(client, "bob")
    mine = await new_workspace(client, "alice", alice)
    other = await new_workspace(client, "alice", alice)
    bobs = await new_workspace(client, "bob", bob)
    session = await session_for(client, "alice", mine, alice)
    cookie = {"Cookie": f"{workspace_sessions.COOKIE_NAME}={session}"}

    allowed = await access(client, mine, cookie)
    assert allowed.status_code == 204
    assert allowed.headers["X-Workspace-Upstream"] == "10.0.0.9:8080"
    # The web app's origin may frame it ("Open here"); nothing else is said about the caller.
    assert allowed.headers["X-Workspace-Frame-Ancestors"] == "http://localhost:8080"

    for elsewhere in (other, bobs):
        assert (await access(client, elsewhere, cookie)).status_code == 401


async def test_a_tossed_cookie_neither_opens_nor_blocks(client: httpx.AsyncClient) -> None:
    """Another origin of the same site (another workspace) can set a cookie for the whole
    domain; the session that opens this workspace is found among them."""
    alice, mallory = bearer(client, "alice"), bearer(client, "mallory")
    mine = await new_workspace(client, "alice", alice)
    theirs = await new_workspace(client, "mallory", mallory)
    own = await session_for(client, "alice", mine, alice)
    tossed = await session_for(client, "mallory", theirs, mallory)
    name = workspace_sessions.COOKIE_NAME
    both = {"Cookie": f"{name}={tossed}; {name}={own}"}
    assert (await access(client, mine, both)).status_code == 204
    only_tossed = {"Cookie": f"{name}={tossed}"}
    assert (await access(client, mine, only_tossed)).status_code == 401


async def test_a_revoked_token_ends_its_sessions(client: httpx.AsyncClient) -> None:
    admin = bearer(client, "root", is_admin=True)
    issued = await client.post("/auth/tokens", json={"user_id": "alice"}, headers=admin)
    alice = {"Authorization": f"Bearer {issued.json()['token']}"}
    workspace_id = await new_workspace(client, "alice", alice)
    session = await session_for(client, "alice", workspace_id, alice)
    cookie = {"Cookie": f"{workspace_sessions.COOKIE_NAME}={session}"}
    assert (await access(client, workspace_id, cookie)).status_code == 204

    revoked = await client.delete(f"/auth/tokens/{issued.json()['id']}", headers=admin)
    assert revoked.status_code == 204
    ended = await access(client, workspace_id, cookie)
    assert ended.status_code == 401
    assert "session for this workspace ended" in ended.json()["detail"]


async def test_a_stopped_workspace_ends_its_sessions(client: httpx.AsyncClient) -> None:
    alice = bearer(client, "alice")
    workspace_id = await new_workspace(client, "alice", alice)
    session = await session_for(client, "alice", workspace_id, alice)
    cookie = {"Cookie": f"{workspace_sessions.COOKIE_NAME}={session}"}
    await client.post(f"/users/alice/workspace/{workspace_id}:stop", headers=alice)
    assert (await access(client, workspace_id, cookie)).status_code == 403


async def test_manager_credentials_other_than_headers_open_no_workspace(
    client: httpx.AsyncClient,
) -> None:
    alice = bearer(client, "alice")
    token = alice["Authorization"].split()[1]
    workspace_id = await new_workspace(client, "alice", alice)
    # Scripts: a token in a header works, and nobody may frame what they get.
    by_header = await access(client, workspace_id, alice)
    assert by_header.status_code == 204
    assert by_header.headers["X-Workspace-Frame-Ancestors"] == ""
    # The manager's cookie and a token in the query are not credentials on a workspace origin.
    assert (await access(client, workspace_id, {"Cookie": f"ct_token={token}"})).status_code == 401
    in_query = await client.get(
        "/auth/workspace-access",
        params={"ct_token": token},
        headers={"X-Workspace-Id": workspace_id},
    )
    assert in_query.status_code == 401


async def test_only_nginx_says_which_workspace(client: httpx.AsyncClient) -> None:
    alice = bearer(client, "alice")
    workspace_id = await new_workspace(client, "alice", alice)
    # Without the header (the manager's /api/ clears it) there is no workspace to open.
    no_header = await client.get(
        "/auth/workspace-access",
        headers={**alice, "X-Original-URI": f"/workspaces/{workspace_id}/tree"},
    )
    assert no_header.status_code == 403
    assert (await access(client, "../etc", alice)).status_code == 403


@pytest.mark.parametrize("client", [{"unsafe_workspaces_on_manager_origin": True}], indirect=True)
async def test_the_unsafe_way_serves_paths_of_the_managers_origin(
    client: httpx.AsyncClient,
) -> None:
    alice = bearer(client, "alice")
    workspace_id = await new_workspace(client, "alice", alice)
    opened = await client.post(f"/users/alice/workspace/{workspace_id}:open", headers=alice)
    assert opened.json()["url"] == f"/workspaces/{workspace_id}/"
    allowed = await client.get(
        "/auth/workspace-access",
        headers={**alice, "X-Original-URI": f"/workspaces/{workspace_id}/tree"},
    )
    assert allowed.status_code == 204
    assert (await hand_off(client, workspace_id, "x")).status_code == 403
    config = await client.get("/config", headers=alice)
    assert config.json()["workspaces_on_manager_origin"] is True


async def test_on_localhost_and_https_the_cookies_are_host_only_by_name(
    client: httpx.AsyncClient,
) -> None:
    """`__Host-` cookies cannot be set by another host of the site (a workspace's page): the
    manager uses them wherever browsers keep Secure cookies, and then reads no plain
    `ct_token` (which a workspace could have set for the whole domain)."""
    alice = bearer(client, "alice")
    token = alice["Authorization"].split()[1]
    csrf = {"X-Requested-With": "test"}
    for where in (
        {"X-Forwarded-Host": "lab.localhost:8080"},
        {"X-Forwarded-Host": "lab.example.org", "X-Forwarded-Proto": "https"},
    ):
        login = await client.post("/auth/login", json={"token": token}, headers={**csrf, **where})
        cookie = login.headers["set-cookie"]
        assert cookie.startswith("__Host-ct_token=") and "Secure" in cookie, cookie
        tossed = await client.get("/users/me", headers={**where, "Cookie": f"ct_token={token}"})
        assert tossed.status_code == 401
        own = await client.get(
            "/users/me", headers={**where, "Cookie": f"__Host-ct_token={token}; ct_token=x"}
        )
        assert own.status_code == 200 and own.json()["id"] == "alice"
    # Plain http elsewhere: browsers keep no Secure cookie there; the plain name it is.
    login = await client.post(
        "/auth/login", json={"token": token}, headers={**csrf, "X-Forwarded-Host": "lab.corp"}
    )
    assert login.headers["set-cookie"].startswith("ct_token=")

    workspace_id = await new_workspace(client, "alice", alice)
    link = urlsplit(await open_link(client, "alice", workspace_id, alice))
    assert link.netloc == f"{workspace_id}.lab.localhost:8080"
    handed = await client.get(
        "/auth/workspace-handoff",
        params={"code": code_of(link.geturl())},
        headers={"X-Workspace-Id": workspace_id, "Host": link.netloc},
    )
    assert handed.headers["set-cookie"].startswith("__Host-workspace_session=")
    session = handed.headers["set-cookie"].split(";")[0]
    assert (await access(client, workspace_id, {"Cookie": session})).status_code == 204
