"""Standalone sign-in: token sources, issuing and revoking, the cookie, CSRF and CORS."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from jose import jwt

from lab_workspace_manager.app import create_app
from lab_workspace_manager.auth.standalone import ISSUER, StandaloneAuth
from lab_workspace_manager.backends.memory import InMemoryBackend
from lab_workspace_manager.settings import Settings
from tests.support.apiclient import app_client, issue_token
from tests.support.settings import ADMIN_TOKEN, make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(backend_cors_origins=["http://ui.example"]), InMemoryBackend())
    async with app_client(app) as client:
        yield client


def token_for(client: httpx.AsyncClient, user: str, is_admin: bool = False) -> str:
    return issue_token(client.app, user, is_admin)  # type: ignore[attr-defined]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_no_token_is_401_with_a_hint(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/alice/workspace")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Sign in first" in response.json()["detail"]


async def test_health_needs_no_token_and_says_how_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["auth_mode"] == "standalone"


@pytest.mark.parametrize("source", ["query", "header", "bearer", "cookie"])
async def test_tokens_are_read_where_ml_lab_reads_them(
    client: httpx.AsyncClient, source: str
) -> None:
    token = token_for(client, "alice")
    request: dict = {
        "query": {"params": {"ct_token": token}},
        "header": {"headers": {"ct_token": token}},
        "bearer": {"headers": bearer(token)},
        "cookie": {},
    }[source]
    if source == "cookie":
        client.cookies.set("ct_token", token)
    response = await client.get("/users/me", **request)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": "alice", "is_admin": False, "auth_mode": "standalone"}


async def test_the_admin_token_is_an_administrator(client: httpx.AsyncClient) -> None:
    me = (await client.get("/users/me", headers=bearer(ADMIN_TOKEN))).json()
    assert me == {"id": "admin", "is_admin": True, "auth_mode": "standalone"}


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "a.b.c", jwt.encode({"sub": "alice"}, "other-secret", algorithm="HS256")],
)
async def test_invalid_tokens_are_401(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/users/me", headers={"ct_token": token} if token else {})
    assert response.status_code == 401


async def test_an_expired_token_is_401(client: httpx.AsyncClient) -> None:
    settings: Settings = client.app.state.runtime.settings  # type: ignore[attr-defined]
    assert settings.jwt_secret is not None
    past = int(time.time()) - 10
    claims = {"iss": ISSUER, "sub": "alice", "jti": "x", "iat": past - 100, "exp": past}
    expired = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")
    response = await client.get("/users/me", headers=bearer(expired))
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_admins_issue_list_and_revoke_tokens(client: httpx.AsyncClient) -> None:
    issued = await client.post(
        "/auth/tokens",
        headers=bearer(ADMIN_TOKEN),
        json={"user_id": "carol", "expires_in": 3600, "description": "onboarding"},
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert (body["user_id"], body["is_admin"], body["description"]) == (
        "carol",
        False,
        "onboarding",
    )
    token = body["token"]
    assert (await client.get("/users/me", headers=bearer(token))).json()["id"] == "carol"
    listed = (await client.get("/auth/tokens", headers=bearer(ADMIN_TOKEN))).json()
    assert body["id"] in [t["id"] for t in listed]
    assert all("token" not in t for t in listed)
    revoked = await client.delete(f"/auth/tokens/{body['id']}", headers=bearer(ADMIN_TOKEN))
    assert revoked.status_code == 204
    after = await client.get("/users/me", headers=bearer(token))
    assert after.status_code == 401
    assert "revoked" in after.json()["detail"]


async def test_users_cannot_issue_tokens(client: httpx.AsyncClient) -> None:
    user = bearer(token_for(client, "alice"))
    for response in [
        await client.post(
            "/auth/tokens", headers=user, json={"user_id": "alice", "is_admin": True}
        ),
        await client.get("/auth/tokens", headers=user),
        await client.delete("/auth/tokens/abc", headers=user),
    ]:
        assert response.status_code == 403
        assert response.json()["detail"] == "Only administrators may do this."


async def test_token_requests_are_validated(client: httpx.AsyncClient) -> None:
    for body in [{"user_id": "bad user"}, {"user_id": "a", "expires_in": 1}, {}]:
        response = await client.post("/auth/tokens", headers=bearer(ADMIN_TOKEN), json=body)
        assert response.status_code == 422


async def test_secrets_and_tokens_survive_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(admin_token=None, jwt_secret=None, data_dir=tmp_path)
    with caplog.at_level(logging.WARNING):
        first = StandaloneAuth(settings)
    generated = [r.getMessage() for r in caplog.records if "administrator token" in r.getMessage()]
    assert len(generated) == 1
    admin_token = generated[0].rsplit(": ", 1)[1]
    user_token, _ = first.issue("alice", None, False, "")
    assert (tmp_path / "auth.json").stat().st_mode & 0o777 == 0o600
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        second = StandaloneAuth(settings)
    assert not [r for r in caplog.records if "administrator token" in r.getMessage()]
    assert (await second.identify(admin_token)).is_admin
    assert (await second.identify(user_token)).user_id == "alice"


async def test_login_sets_an_httponly_cookie_and_logout_clears_it(
    client: httpx.AsyncClient,
) -> None:
    token = token_for(client, "alice")
    csrf = {"X-Requested-With": "lab-workspace-manager"}
    refused = await client.post("/auth/login", json={"token": token})
    assert refused.status_code == 403
    response = await client.post("/auth/login", json={"token": token}, headers=csrf)
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("ct_token=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert (await client.get("/users/me")).json()["id"] == "alice"
    bad = await client.post("/auth/login", json={"token": "nope"}, headers=csrf)
    assert bad.status_code == 401
    logout = await client.post("/auth/logout", headers=csrf)
    assert logout.status_code == 204
    assert 'ct_token=""' in logout.headers["set-cookie"]


async def test_cookie_requests_that_change_state_need_the_csrf_header(
    client: httpx.AsyncClient,
) -> None:
    client.cookies.set("ct_token", token_for(client, "alice"))
    body = {"display_name": "x", "is_stopped": True}
    forged = await client.post("/users/alice/workspace", json=body)
    assert forged.status_code == 403
    assert "X-Requested-With" in forged.json()["detail"]
    assert (await client.get("/users/alice/workspace")).json() == []
    made = await client.post(
        "/users/alice/workspace", json=body, headers={"X-Requested-With": "XMLHttpRequest"}
    )
    assert made.status_code == 201
    client.cookies.clear()
    # A bearer token is not sent by browsers on their own: no header needed.
    scripted = await client.post(
        "/users/alice/workspace",
        json={"display_name": "y", "is_stopped": True},
        headers=bearer(token_for(client, "alice")),
    )
    assert scripted.status_code == 201


async def test_cors_allows_only_the_configured_origins(client: httpx.AsyncClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-requested-with,content-type",
    }
    allowed = await client.options(
        "/users/alice/workspace", headers={"Origin": "http://ui.example", **preflight}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://ui.example"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    other = await client.options(
        "/users/alice/workspace", headers={"Origin": "http://evil.example", **preflight}
    )
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    simple = await client.get("/healthz", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


async def test_the_administrators_id_is_reserved(client: httpx.AsyncClient) -> None:
    """A token for the user "admin" would manage the administrator's own workspaces."""
    refused = await client.post(
        "/auth/tokens", json={"user_id": "admin"}, headers=bearer(ADMIN_TOKEN)
    )
    assert refused.status_code == 422
    assert "reserved" in refused.json()["detail"]
    # One issued before the id was reserved no longer signs in.
    auth: StandaloneAuth = client.app.state.runtime.authenticator  # type: ignore[attr-defined]
    old, _ = auth.issue("admin", None, False, "from an older version")
    response = await client.get("/users/admin/workspace", headers=bearer(old))
    assert response.status_code == 401
    assert "no longer accepted" in response.json()["detail"]


@pytest.mark.parametrize(
    ("query", "cookie"),
    [
        ("ct_token={mine}&ct_token={admin}", None),  # nginx keys on the first, a parser the last
        ("ct%5Ftoken={mine}", None),  # a spelling the proxy would not strip
        ("ct_%74oken={mine}", None),
        (None, "ct_token={admin}; ct_token={mine}"),
        (None, "ct_token={mine};  ct_token={mine}"),
        (None, "other=1; ct_token ={mine}"),
    ],
)
async def test_a_token_given_ambiguously_is_refused(
    client: httpx.AsyncClient, query: str | None, cookie: str | None
) -> None:
    mine = token_for(client, "mallory")
    values = {"mine": mine, "admin": ADMIN_TOKEN}
    url = "/users/mallory/workspace" + (f"?{query.format(**values)}" if query else "")
    headers = {"Cookie": cookie.format(**values)} if cookie else {}
    response = await client.get(url, headers=headers)
    assert response.status_code == 401, response.text
    # Once, spelled plainly, each works.
    assert (await client.get(f"/users/mallory/workspace?ct_token={mine}")).status_code == 200
    plain = await client.get(
        "/users/mallory/workspace", headers={"Cookie": f"a=1; ct_token={mine}"}
    )
    assert plain.status_code == 200
