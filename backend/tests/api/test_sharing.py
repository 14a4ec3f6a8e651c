"""Shares at the API, on the in-memory backend: what a grantee may and may not do, what the
owner and administrators see, and that a revoked share or a deleted workspace ends access.

The proxy's side (a grantee's page and terminal in Chromium, through nginx) is tested in
tests/browser/test_sharing.py; every endpoint × a grantee in
tests/api/test_authorization_matrix.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from lab_workspace_manager import sharing
from lab_workspace_manager.api.routes import events as events_routes
from lab_workspace_manager.app import create_app
from lab_workspace_manager.auth import workspace_sessions
from lab_workspace_manager.backends import WorkspaceState
from lab_workspace_manager.models import WorkspaceStatus
from lab_workspace_manager.sharing import MAX_SHARES_PER_WORKSPACE
from tests.api.test_workspace_origins import (
    LocatingBackend,
    access,
    bearer,
    new_workspace,
    session_for,
)
from tests.support.apiclient import app_client
from tests.support.settings import ADMIN_TOKEN, make_settings

pytestmark = pytest.mark.anyio

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """A manager of its own: shares are kept in its DATA_DIR."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    app = create_app(make_settings(data_dir=tmp_path, **overrides), LocatingBackend())
    async with app_client(app) as client:
        yield client


async def share(
    client: httpx.AsyncClient,
    owner: str,
    workspace_id: str,
    grantee: str,
    headers: dict[str, str],
    access: str | None = "open",
) -> httpx.Response:
    return await client.put(
        f"/users/{owner}/workspace/{workspace_id}/shares/{grantee}",
        json={} if access is None else {"access": access},
        headers=headers,
    )


async def test_a_grantee_opens_the_shared_workspace_and_no_other(
    client: httpx.AsyncClient,
) -> None:
    alice, bob = bearer(client, "alice"), bearer(client, "bob")
    shared = await new_workspace(client, "alice", alice)
    other = await new_workspace(client, "alice", alice)
    made = await share(client, "alice", shared, "bob", alice, access=None)
    assert made.status_code == 200, made.text
    assert made.json()["access"] == "open"  # the least, unless asked for more
    assert made.json()["created_by"] == "alice"

    got = await client.get(f"/users/alice/workspace/{shared}", headers=bob)
    assert got.status_code == 200
    assert got.json()["user_id"] == "alice"
    assert (await client.get(f"/users/alice/workspace/{shared}/stats", headers=bob)).is_success
    session = await session_for(client, "alice", shared, bob)
    cookie = {"Cookie": f"{workspace_sessions.COOKIE_NAME}={session}"}
    assert (await access(client, shared, cookie)).status_code == 204
    assert (await access(client, shared, bob)).status_code == 204  # a script's token too

    # Nothing else of the owner's.
    assert (await client.get(f"/users/alice/workspace/{other}", headers=bob)).status_code == 403
    assert (await access(client, other, bob)).status_code == 403
    assert (await client.get("/users/alice/workspace", headers=bob)).status_code == 403
    assert (await client.get("/users/alice/kept-volumes", headers=bob)).status_code == 403


async def test_open_is_not_operate_and_never_owning(client: httpx.AsyncClient) -> None:
    alice, bob = bearer(client, "alice"), bearer(client, "bob")
    workspace_id = await new_workspace(client, "alice", alice)
    path = f"/users/alice/workspace/{workspace_id}"
    await share(client, "alice", workspace_id, "bob", alice)

    refused = await client.post(f"{path}:stop", headers=bob)
    assert refused.status_code == 403
    assert "to open it, not to do this" in refused.json()["detail"]
    assert (await client.get(f"{path}/logs", headers=bob)).status_code == 403

    assert (await share(client, "alice", workspace_id, "bob", alice, "operate")).is_success
    stopped = await client.post(f"{path}:stop", headers=bob)
    assert stopped.status_code == 200
    assert stopped.json()["status"] == "stopped"
    assert (await client.post(f"{path}:start", headers=bob)).status_code == 200
    assert (await client.post(f"{path}:restart", headers=bob)).status_code == 200
    assert (await client.get(f"{path}/logs", headers=bob)).status_code == 200

    # Settings, deletion and the shares themselves stay the owner's.
    for method, url, body in [
        ("PATCH", path, {"idle_timeout": 0}),
        ("DELETE", path, None),
        ("GET", f"{path}/shares", None),
        ("PUT", f"{path}/shares/carol", {"access": "open"}),
        ("DELETE", f"{path}/shares/carol", None),
    ]:
        answer = await client.request(method, url, json=body, headers=bob)
        assert answer.status_code == 403, (method, url, answer.text)
    assert (await client.get(path, headers=alice)).status_code == 200
    # The grantee may leave the share (and nothing else of it).
    assert (await client.delete(f"{path}/shares/bob", headers=bob)).status_code == 204
    assert (await client.get(path, headers=bob)).status_code == 403


async def test_a_grantees_stop_says_who_stopped_it(client: httpx.AsyncClient) -> None:
    alice, bob = bearer(client, "alice"), bearer(client, "bob")
    workspace_id = await new_workspace(client, "alice", alice)
    await share(client, "alice", workspace_id, "bob", alice, "operate")
    await client.post(f"/users/alice/workspace/{workspace_id}:stop", headers=bob)
    seen = (await client.get(f"/users/alice/workspace/{workspace_id}", headers=alice)).json()
    assert "by bob, who it is shared with" in seen["status_message"]


async def test_shared_with_me_lists_each_with_its_owner(client: httpx.AsyncClient) -> None:
    alice, carol, bob = bearer(client, "alice"), bearer(client, "carol"), bearer(client, "bob")
    first = await new_workspace(client, "alice", alice)
    second = await new_workspace(client, "carol", carol)
    await share(client, "alice", first, "bob", alice)
    await share(client, "carol", second, "bob", carol, "operate")

    listed = await client.get("/users/bob/shared", headers=bob)
    assert listed.status_code == 200
    seen = {(s["workspace"]["id"], s["workspace"]["user_id"], s["access"]) for s in listed.json()}
    assert seen == {(first, "alice", "open"), (second, "carol", "operate")}
    # Only bob (and administrators) may ask what is shared with bob.
    assert (await client.get("/users/bob/shared", headers=alice)).status_code == 403
    assert len((await client.get("/users/bob/shared", headers=ADMIN)).json()) == 2
    # Bob's own list is his own workspaces only: quotas and listings stay the owners'.
    assert (await client.get("/users/bob/workspace", headers=bob)).json() == []


async def test_the_owner_and_administrators_see_who_has_access(client: httpx.AsyncClient) -> None:
    alice, carol = bearer(client, "alice"), bearer(client, "carol")
    workspace_id = await new_workspace(client, "alice", alice)
    carols = await new_workspace(client, "carol", carol)
    await share(client, "alice", workspace_id, "bob", alice)
    await share(client, "alice", workspace_id, "dave", ADMIN, "operate")  # an administrator's
    await share(client, "carol", carols, "bob", carol)

    listed = await client.get(f"/users/alice/workspace/{workspace_id}/shares", headers=alice)
    assert [(s["user_id"], s["access"], s["created_by"]) for s in listed.json()] == [
        ("bob", "open", "alice"),
        ("dave", "operate", "admin"),
    ]
    everything = await client.get("/shares", headers=ADMIN)
    assert {(s["workspace_id"], s["user_id"]) for s in everything.json()} == {
        (workspace_id, "bob"),
        (workspace_id, "dave"),
        (carols, "bob"),
    }
    assert (await client.get("/shares", headers=alice)).status_code == 403
    # Changing the access keeps who shared it and when.
    changed = await share(client, "alice", workspace_id, "bob", alice, "operate")
    assert changed.json()["created_at"] == listed.json()[0]["created_at"]


async def test_revoking_ends_access_at_once(client: httpx.AsyncClient) -> None:
    alice, bob = bearer(client, "alice"), bearer(client, "bob")
    workspace_id = await new_workspace(client, "alice", alice)
    await share(client, "alice", workspace_id, "bob", alice)
    session = await session_for(client, "alice", workspace_id, bob)
    cookie = {"Cookie": f"{workspace_sessions.COOKIE_NAME}={session}"}
    assert (await access(client, workspace_id, cookie)).status_code == 204

    revoked = await client.delete(
        f"/users/alice/workspace/{workspace_id}/shares/bob", headers=alice
    )
    assert revoked.status_code == 204
    # (nginx may answer from its cache for up to 5 s more; the check itself says no now)
    assert (await access(client, workspace_id, cookie)).status_code == 403
    assert (await client.get(f"/users/alice/workspace/{workspace_id}", headers=bob)).is_error
    assert (await client.get("/users/bob/shared", headers=bob)).json() == []
    again = await client.delete(f"/users/alice/workspace/{workspace_id}/shares/bob", headers=alice)
    assert again.status_code == 404
    assert "not shared with 'bob'" in again.json()["detail"]


async def test_deleting_the_workspace_removes_its_shares(client: httpx.AsyncClient) -> None:
    alice, bob = bearer(client, "alice"), bearer(client, "bob")
    workspace_id = await new_workspace(client, "alice", alice)
    await share(client, "alice", workspace_id, "bob", alice)
    deleted = await client.delete(f"/users/alice/workspace/{workspace_id}", headers=alice)
    assert deleted.status_code == 204
    assert (await client.get("/shares", headers=ADMIN)).json() == []
    assert (await client.get("/users/bob/shared", headers=bob)).json() == []


async def test_bad_shares_are_refused_with_a_reason(client: httpx.AsyncClient) -> None:
    alice, bob = bearer(client, "alice"), bearer(client, "bob")
    workspace_id = await new_workspace(client, "alice", alice)
    bobs = await new_workspace(client, "bob", bob)

    to_self = await share(client, "alice", workspace_id, "alice", alice)
    assert to_self.status_code == 422
    assert "owns this workspace" in to_self.json()["detail"]
    assert (await share(client, "alice", workspace_id, "../bob", alice)).status_code in (404, 422)
    assert (await share(client, "alice", workspace_id, "bob", alice, "own")).status_code == 422
    # Someone else's workspace, under one's own name or theirs.
    assert (await share(client, "alice", bobs, "carol", alice)).status_code == 404
    assert (await share(client, "bob", bobs, "carol", alice)).status_code == 403

    for n in range(MAX_SHARES_PER_WORKSPACE):
        assert (await share(client, "alice", workspace_id, f"user{n}", alice)).is_success
    full = await share(client, "alice", workspace_id, "one-more", alice)
    assert full.status_code == 409
    assert "revoke a share first" in full.json()["detail"]


@pytest.mark.parametrize("client", [{"quota_running": 1}], indirect=True)
async def test_a_grantees_start_counts_against_the_owners_quota(
    client: httpx.AsyncClient,
) -> None:
    alice, bob = bearer(client, "alice"), bearer(client, "bob")
    first = await new_workspace(client, "alice", alice)
    await client.post(f"/users/alice/workspace/{first}:stop", headers=alice)
    second = await new_workspace(client, "alice", alice)  # alice's one running workspace
    await share(client, "alice", first, "bob", alice, "operate")
    refused = await client.post(f"/users/alice/workspace/{first}:start", headers=bob)
    assert refused.status_code == 409, refused.text
    await client.post(f"/users/alice/workspace/{second}:stop", headers=alice)
    assert (await client.post(f"/users/alice/workspace/{first}:start", headers=bob)).is_success


@pytest.mark.parametrize("client", [{"unsafe_workspaces_on_manager_origin": True}], indirect=True)
async def test_no_shares_where_workspaces_share_the_managers_origin(
    client: httpx.AsyncClient,
) -> None:
    alice = bearer(client, "alice")
    workspace_id = await new_workspace(client, "alice", alice)
    refused = await share(client, "alice", workspace_id, "bob", alice)
    assert refused.status_code == 409
    assert "origins of their own" in refused.json()["detail"]


async def test_shares_made_before_sharing_was_turned_off_open_nothing(tmp_path: Path) -> None:
    """Shares made under WORKSPACE_HOST, then UNSAFE_WORKSPACES_ON_MANAGER_ORIGIN set: the
    owner's page would run on the manager's origin with the grantee's session."""
    backend = LocatingBackend()
    async with app_client(create_app(make_settings(data_dir=tmp_path), backend)) as before:
        alice, bob = bearer(before, "alice"), bearer(before, "bob")
        workspace_id = await new_workspace(before, "alice", alice)
        assert (await share(before, "alice", workspace_id, "bob", alice)).is_success
    unsafe = make_settings(data_dir=tmp_path, unsafe_workspaces_on_manager_origin=True)
    async with app_client(create_app(unsafe, backend)) as after:
        path = f"/users/alice/workspace/{workspace_id}"
        assert (await after.get(path, headers=bob)).status_code == 403
        assert (await after.post(f"{path}:open", headers=bob)).status_code == 403
        assert (await after.get("/users/bob/shared", headers=bob)).json() == []
        assert (await after.get(path, headers=alice)).status_code == 200


async def test_shares_of_a_workspace_gone_behind_the_managers_back_are_swept(
    client: httpx.AsyncClient,
) -> None:
    alice = bearer(client, "alice")
    kept = await new_workspace(client, "alice", alice)
    gone = await new_workspace(client, "alice", alice)
    await share(client, "alice", kept, "bob", alice)
    await share(client, "alice", gone, "bob", alice)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    await runtime.backend.delete("alice", gone, True)  # not through the service
    assert len((await client.get("/shares", headers=ADMIN)).json()) == 2
    assert await runtime.service_for(None).forget_orphaned_shares() == 1
    assert [s["workspace_id"] for s in (await client.get("/shares", headers=ADMIN)).json()] == [
        kept
    ]


async def test_an_orphaned_share_can_still_be_revoked(client: httpx.AsyncClient) -> None:
    alice = bearer(client, "alice")
    workspace_id = await new_workspace(client, "alice", alice)
    await share(client, "alice", workspace_id, "bob", alice)
    await client.app.state.runtime.backend.delete("alice", workspace_id, True)  # type: ignore[attr-defined]
    revoked = await client.delete(
        f"/users/alice/workspace/{workspace_id}/shares/bob", headers=ADMIN
    )
    assert revoked.status_code == 204


async def test_an_owner_has_a_bounded_number_of_shares(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sharing, "MAX_SHARES_PER_OWNER", 3)
    alice = bearer(client, "alice")
    one = await new_workspace(client, "alice", alice)
    two = await new_workspace(client, "alice", alice)
    for grantee in ("b1", "b2"):
        assert (await share(client, "alice", one, grantee, alice)).is_success
    assert (await share(client, "alice", two, "b3", alice)).is_success
    full = await share(client, "alice", two, "b4", alice)
    assert full.status_code == 409
    assert "shared 3 times" in full.json()["detail"]
    assert (await share(client, "alice", two, "b3", alice, "operate")).is_success  # a change


class StartingBackend(LocatingBackend):
    """Its workspaces are forever starting: their event streams stay open."""

    async def get(self, owner: str, workspace_id: str) -> WorkspaceState:
        state = await super().get(owner, workspace_id)
        return replace(state, status=WorkspaceStatus.PENDING)


async def test_a_grantees_event_stream_ends_when_the_share_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_routes, "KEEPALIVE_SECONDS", 0.1)
    app = create_app(make_settings(data_dir=tmp_path), StartingBackend())
    async with app_client(app) as client:
        alice, bob = bearer(client, "alice"), bearer(client, "bob")
        workspace_id = await new_workspace(client, "alice", alice)
        await share(client, "alice", workspace_id, "bob", alice)
        path = f"/users/alice/workspace/{workspace_id}"
        # (The test client hands over a response whole, once the stream has ended.)
        started = asyncio.get_running_loop().time()
        following = asyncio.create_task(
            client.get(f"{path}/events", headers=bob, params={"timeout": 30})
        )
        await asyncio.sleep(1)
        assert not following.done()  # following it live
        await client.delete(f"{path}/shares/bob", headers=alice)
        answer = await following
        assert answer.status_code == 200
        assert "keep-alive" in answer.text
        assert asyncio.get_running_loop().time() - started < 10  # ended, not timed out
