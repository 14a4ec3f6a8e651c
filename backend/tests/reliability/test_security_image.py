"""Security through the public port of the built image (nginx in front of the backend), on the
real engine: the authorisation matrix of every API operation and of the workspace proxy, CSRF,
CORS, the hardening of a real workspace container, and secrets kept out of the logs.

tests/image/test_image.py already checks that the proxy strips Authorization, the ct_token
header and cookie, and that a token in a query string is not logged; this extends those.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import docker
import httpx
import pytest

from tests.api.test_authorization_matrix import CALLERS, EMPTY_ARCHIVE, body_for, expected
from tests.support.engine import owned
from tests.support.images import ECHO_IMAGE
from tests.support.manager_image import Manager, start_manager, stop_manager

ALLOWED_ORIGIN = "https://lab.example.org"
FOREIGN_ORIGIN = "https://evil.example.com"


@pytest.fixture(scope="module")
def manager(engine: docker.DockerClient) -> Iterator[Manager]:
    running = start_manager(engine, environment={"BACKEND_CORS_ORIGINS": ALLOWED_ORIGIN})
    yield running
    stop_manager(engine, running)


@pytest.fixture(scope="module")
def people(manager: Manager) -> dict[str, str | None]:
    """A token for each kind of caller; the owner is "owner-<hex>"."""
    suffix = secrets.token_hex(3)
    return {
        "none": None,
        "bad": "not-a-token",
        "other": manager.token_for("other-" + suffix),
        "grantee": manager.token_for("grantee-" + suffix),
        "operator": manager.token_for("operator-" + suffix),
        "owner": manager.token_for("owner-" + suffix),
        "admin": manager.admin_token,
    }


def owner_of(people: dict[str, str | None], manager: Manager) -> str:
    with manager.client(people["owner"]) as client:
        return str(client.get("/api/users/me").json()["id"])


def create(manager: Manager, token: str | None, user: str, **body: Any) -> dict[str, Any]:
    with manager.client(token) as client:
        response = client.post(
            f"/api/users/{user}/workspace",
            json={"display_name": "s" + secrets.token_hex(4), "is_stopped": True, **body},
            params={"wait": "true"} if body.get("is_stopped") is False else None,
        )
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def running(manager: Manager, people: dict[str, str | None]) -> dict[str, Any]:
    """A running workspace of the owner's, answering with what it receives (the echo image)."""
    owner = owner_of(people, manager)
    workspace = create(
        manager, people["owner"], owner, container_image=ECHO_IMAGE, is_stopped=False
    )
    assert workspace["status"] == "running", workspace
    return workspace


def share_with_grantees(
    manager: Manager, people: dict[str, str | None], owner: str, workspace_id: str
) -> None:
    """As the authorisation matrix has them: "grantee" may open it, "operator" operate it."""
    with manager.client(people["owner"]) as client:
        for caller, access in (("grantee", "open"), ("operator", "operate")):
            with manager.client(people[caller]) as them:
                grantee = them.get("/api/users/me").json()["id"]
            shared = client.put(
                f"/api/users/{owner}/workspace/{workspace_id}/shares/{grantee}",
                json={"access": access},
            )
            assert shared.status_code == 200, shared.text


def test_every_api_operation_for_every_caller_through_nginx(
    manager: Manager, people: dict[str, str | None]
) -> None:
    owner = owner_of(people, manager)
    with manager.client() as anonymous:
        document = anonymous.get("/api/openapi.json").json()
    operations = [(m.upper(), p) for p, item in document["paths"].items() for m in item]
    assert len(operations) >= 16
    workspace_id = ""
    checked = 0
    with manager.client() as client:
        for method, route in operations:
            for caller in CALLERS:
                path = (
                    route.replace("{user_id}", owner)
                    .replace("{token_id}", "x")
                    .replace("{grantee_id}", "someone")
                    .replace("{name}", "small")
                    .replace("{snapshot_id}", "nosnapshot")
                )
                if "{workspace_id}" in path:
                    # A fresh one after each delete, so the next caller's check is not a 404.
                    if not workspace_id:
                        workspace_id = create(manager, people["owner"], owner)["id"]
                        share_with_grantees(manager, people, owner, workspace_id)
                    path = path.replace("{workspace_id}", workspace_id)
                headers = {"X-Requested-With": "test"}
                token = people[caller]
                if token:
                    headers["Authorization"] = f"Bearer {token}"
                params = {"timeout": "0.2"} if route.endswith("/events") else None
                if route.endswith(":upload"):  # (its body is an archive, its settings a query)
                    response = client.request(
                        method, "/api" + path, headers=headers, content=EMPTY_ARCHIVE,
                        params={"workspace": json.dumps(body_for("POST", route[:-7]))},
                    )  # fmt: skip
                else:
                    response = client.request(
                        method, "/api" + path, headers=headers, params=params,
                        json=body_for(method, route),
                    )  # fmt: skip
                assert expected(method, route, caller)(response.status_code), (
                    f"{method} {route} as {caller}: {response.status_code} {response.text[:200]}"
                )
                assert response.status_code < 500, response.text
                if method == "DELETE" and "{workspace_id}" in route and response.status_code < 300:
                    workspace_id = ""
                checked += 1
    assert checked == len(operations) * len(CALLERS)


@pytest.mark.parametrize(
    ("caller", "status"),
    [("none", 401), ("bad", 401), ("other", 403), ("owner", 200), ("admin", 200)],
)
@pytest.mark.parametrize("how", ["bearer", "header", "query", "cookie"])
def test_the_workspace_proxy_for_every_caller(
    manager: Manager,
    people: dict[str, str | None],
    running: dict[str, Any],
    caller: str,
    status: int,
    how: str,
) -> None:
    """On a workspace's own origin a script's token works in a header; the manager's cookie
    and a token in the query are no credentials there (a link cannot carry one in)."""
    token = people[caller]
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    cookies: dict[str, str] = {}
    if token:
        if how == "bearer":
            headers["Authorization"] = f"Bearer {token}"
        elif how == "header":
            headers["ct_token"] = token
        elif how == "query":
            params["ct_token"] = token
        else:
            cookies["ct_token"] = token
    if how in ("query", "cookie"):
        status = 401
    path = f"/workspaces/{running['id']}/some/page"
    with manager.workspace_client(running["id"]) as client:
        client.cookies.update(cookies)
        response = client.get(path, headers=headers, params=params)
        assert response.status_code == status, (caller, how, response.text[:200])
        if status == 200:
            seen = response.json()
            # The token a caller opened it with never reaches the workspace: an administrator
            # opening a user's workspace must not hand the user their token.
            assert token not in json.dumps(seen), (how, seen)
            assert seen["path"].startswith(path)
        # The host of another workspace, an unknown one and a malformed one: refused alike.
        for odd in ("zzzzzzzzzz", "x", running["id"] + "x" * 20, "a_b"):
            refused = client.get(
                path,
                headers={**headers, "Host": f"{odd}.lab.localhost:{manager.port}"},
                params=params,
            )
            assert refused.status_code in (401, 403, 404), (odd, refused.status_code)
            assert "path" not in refused.text


def test_the_workspace_receives_the_query_without_the_token(
    manager: Manager, people: dict[str, str | None], running: dict[str, Any]
) -> None:
    """Regression: the query string was forwarded as it came, ct_token included. A token
    opens nothing in a workspace's query, and still never reaches the workspace."""
    admin, owner = people["admin"], people["owner"]
    assert admin and owner
    base = f"/workspaces/{running['id']}/tree"
    with manager.workspace_client(running["id"], owner) as client:
        for query, kept in (
            (f"ct_token={admin}", ""),
            (f"a=1&ct_token={admin}&b=2", "a=1&b=2"),
            (f"ct_token={admin}&b=2", "b=2"),
            (f"a=1&ct_token={admin}", "a=1"),
            (f"a=1&xct_token=keep&ct_token={admin}", "a=1&xct_token=keep"),
        ):
            seen = client.get(f"{base}?{query}").json()
            assert admin not in seen["path"], seen
            assert seen["path"] == (f"{base}?{kept}" if kept else base), (query, seen["path"])


@pytest.fixture(scope="module")
def unsafe(engine: docker.DockerClient) -> Iterator[Manager]:
    """A manager that serves workspaces on its own origin, as an administrator may choose."""
    running = start_manager(engine, environment={"UNSAFE_WORKSPACES_ON_MANAGER_ORIGIN": "true"})
    yield running
    stop_manager(engine, running)


def test_a_token_given_twice_or_misspelt_never_reaches_the_workspace(
    unsafe: Manager,
) -> None:
    """Regression (workspaces on the manager's origin, where its cookie and query tokens open
    them): nginx strips one ct_token cookie and the literal ct_token= in the query; a second
    cookie (the administrator's), `ct%5Ftoken=` and duplicates, which nginx's access cache and
    the backend read differently, went through. Now refused before the workspace."""
    admin, owner = unsafe.admin_token, unsafe.token_for("owner-twice")
    workspace = create(unsafe, owner, "owner-twice", container_image=ECHO_IMAGE, is_stopped=False)
    base = f"/workspaces/{workspace['id']}/tree"
    with httpx.Client(base_url=unsafe.url, trust_env=False) as client:
        assert client.get(base, headers={"Cookie": f"ct_token={owner}"}).status_code == 200
        for headers, query in (
            ({"Cookie": f"ct_token={admin}; ct_token={owner}"}, ""),
            ({"Cookie": f"ct_token={owner}; ct_token={admin}"}, ""),
            ({"Cookie": f"a=1; ct_token ={owner}"}, ""),
            ({}, f"?ct%5Ftoken={owner}"),
            ({}, f"?ct_token={owner}&ct_token={admin}"),
            ({"Cookie": f"ct_token={owner}"}, f"?ct%5Ftoken={admin}"),
        ):
            refused = client.get(base + query, headers=headers)
            assert refused.status_code in (400, 401), (headers, query, refused.text)
            assert admin not in refused.text


def test_the_managers_pages_send_security_headers(manager: Manager) -> None:
    """The app: a Content-Security-Policy that allows only its own scripts and framing by its
    own origin; the API: no caching, nothing to run or frame; both: no content sniffing."""
    with httpx.Client(base_url=manager.url, trust_env=False) as client:
        app = client.get("/app/")
        api = client.get(
            "/api/users/me", headers={"Authorization": f"Bearer {manager.admin_token}"}
        )
        docs = client.get("/api/docs")
    policy = app.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'self'" in policy
    assert "'unsafe-eval'" not in policy
    assert app.headers["X-Content-Type-Options"] == "nosniff"
    assert api.status_code == 200
    assert "no-store" in api.headers["Cache-Control"]
    assert api.headers["Content-Security-Policy"] == (
        "default-src 'none'; frame-ancestors 'none'; sandbox"
    )
    assert api.headers["X-Content-Type-Options"] == "nosniff"
    assert docs.status_code == 200
    assert "frame-ancestors 'none'" in docs.headers["Content-Security-Policy"]


def test_cookie_sign_in_needs_the_csrf_header_for_changes(
    manager: Manager, people: dict[str, str | None]
) -> None:
    owner = owner_of(people, manager)
    token = people["owner"]
    assert token
    with httpx.Client(base_url=manager.url, trust_env=False) as client:
        # Signing in is itself a change: a foreign page must not sign a browser in.
        assert client.post("/api/auth/login", json={"token": token}).status_code == 403
        login = client.post(
            "/api/auth/login", json={"token": token}, headers={"X-Requested-With": "web"}
        )
        assert login.status_code == 200, login.text
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert client.get(f"/api/users/{owner}/workspace").status_code == 200
        body = {"display_name": "csrf", "is_stopped": True}
        refused = client.post(f"/api/users/{owner}/workspace", json=body)
        assert refused.status_code == 403, refused.text
        assert "X-Requested-With" in refused.json()["detail"]
        made = client.post(
            f"/api/users/{owner}/workspace", json=body, headers={"X-Requested-With": "web"}
        )
        assert made.status_code == 201, made.text
        path = f"/api/users/{owner}/workspace/{made.json()['id']}"
        for method, tail in (("PATCH", ""), ("POST", ":start"), ("DELETE", "")):
            response = client.request(method, path + tail, json={"idle_timeout": 0})
            assert response.status_code == 403, (method, tail, response.text)
        assert client.post("/api/auth/logout").status_code == 403
        gone = client.delete(
            path, params={"delete_volumes": "true"}, headers={"X-Requested-With": "web"}
        )
        assert gone.status_code == 204


def test_cors_only_for_the_configured_origin(
    manager: Manager, people: dict[str, str | None]
) -> None:
    owner = owner_of(people, manager)
    path = f"/api/users/{owner}/workspace"
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-requested-with",
    }
    with manager.client(people["owner"]) as client:
        foreign = client.get(path, headers={"Origin": FOREIGN_ORIGIN})
        assert "access-control-allow-origin" not in foreign.headers
        refused = client.options(path, headers={"Origin": FOREIGN_ORIGIN, **preflight})
        assert refused.status_code >= 400
        assert "access-control-allow-origin" not in refused.headers
        allowed = client.options(path, headers={"Origin": ALLOWED_ORIGIN, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert client.get(path, headers={"Origin": "null"}).headers.get(
            "access-control-allow-origin"
        ) in (None, ALLOWED_ORIGIN)


def test_a_real_workspace_is_hardened(
    manager: Manager,
    engine: docker.DockerClient,
    people: dict[str, str | None],
    running: dict[str, Any],
) -> None:
    other_user = "other-" + owner_of(people, manager).split("-", 1)[1]
    second = create(
        manager, people["other"], other_user, container_image=ECHO_IMAGE, is_stopped=False
    )
    networks = []
    for workspace in (running, second):
        found = engine.containers.list(
            filters={
                "label": [
                    f"lwm.instance={manager.instance}",
                    "lwm.kind=workspace",
                    f"lwm.workspace={workspace['id']}",
                ]
            }
        )
        assert len(found) == 1, workspace
        attrs = found[0].attrs
        host = attrs["HostConfig"]
        assert host["Privileged"] is False
        assert "no-new-privileges" in " ".join(host.get("SecurityOpt") or [])
        assert not host.get("CapAdd")
        assert set(host.get("CapDrop") or []) >= {"NET_RAW", "MKNOD"}
        assert not host.get("Devices")
        assert host.get("PidMode") in ("", None) and host.get("IpcMode") in ("private", "")
        assert host.get("NetworkMode") not in ("host", "bridge", "default")
        assert host.get("UsernsMode") in ("", None)
        assert host.get("PidsLimit"), "a fork bomb must not take the host down"
        assert not host.get("Binds")
        for mount in attrs["Mounts"]:
            assert mount["Type"] == "volume", mount  # no host path
            assert "docker.sock" not in mount.get("Source", "")
        assert [m["Destination"] for m in attrs["Mounts"]] == ["/workspace"]
        environment = " ".join(attrs["Config"]["Env"] or [])
        assert manager.admin_token not in environment
        joined = set(attrs["NetworkSettings"]["Networks"])
        assert "bridge" not in joined and "host" not in joined
        assert len(joined) == 1
        networks.append(joined.pop())
    # One network per user; the manager joins each of them, and workspaces are not on the
    # manager's own (default) network.
    assert networks[0] != networks[1]
    manager.container.reload()
    manager_networks = set(manager.container.attrs["NetworkSettings"]["Networks"])
    assert set(networks) <= manager_networks
    assert "bridge" in manager_networks
    user_networks = owned(engine, manager.instance)["networks"]
    assert set(networks) <= set(user_networks)
    for name in networks:
        network = engine.networks.get(name)
        assert network.attrs["Driver"] == "bridge"
        assert network.attrs.get("Internal") in (False, True)
        members = {c["Name"] for c in network.attrs["Containers"].values()}
        assert manager.container.name in members


def test_no_secret_reaches_the_logs(
    manager: Manager, people: dict[str, str | None], running: dict[str, Any]
) -> None:
    """After requests carrying every token every way (valid, revoked, wrong), the manager's
    logs hold none of them, nor the JWT secret."""
    owner = owner_of(people, manager)
    secrets_seen = [t for t in people.values() if t and t != "not-a-token"]
    with manager.client(manager.admin_token) as admin:
        issued = admin.post("/api/auth/tokens", json={"user_id": "revoked-user"}).json()
        assert admin.delete(f"/api/auth/tokens/{issued['id']}").status_code == 204
    secrets_seen.append(issued["token"])
    wrong = people["owner"][:-4] + "AAAA"  # type: ignore[index]
    secrets_seen.append(wrong)
    paths = ["/api/users/me", f"/api/users/{owner}/workspace", f"/workspaces/{running['id']}/x"]
    hosts = [f"127.0.0.1:{manager.port}", manager.workspace_host(running["id"])]
    with httpx.Client(base_url=manager.url, trust_env=False) as client:
        for token in secrets_seen:
            for path in paths:
                for host in hosts:
                    client.get(path, params={"ct_token": token}, headers={"Host": host})
                    client.get(path, headers={"ct_token": token, "Host": host})
                    client.get(path, headers={"Authorization": f"Bearer {token}", "Host": host})
                    client.cookies.set("ct_token", token)
                    client.get(path, headers={"Host": host})
                    client.cookies.clear()
            client.post("/api/auth/login", json={"token": token}, headers={"X-Requested-With": "x"})
            client.post(f"/api/users/{owner}/workspace?ct_token={token}", content=b"{bad json")
    # (The generated secrets are in auth.json; the other documents hold no secrets.)
    jwt_secret = json.loads(
        manager.container.exec_run(["cat", "/data/auth.json"]).output.decode() or "{}"
    )
    found = [str(v) for v in jwt_secret.values() if isinstance(v, str) and len(v) >= 16]
    assert found, "the standalone secrets were not found in /data"
    logs = manager.container.logs().decode(errors="replace")
    for secret in [*secrets_seen, *found]:
        assert secret not in logs, f"a secret ({secret[:6]}...) is in the manager's logs"


@pytest.mark.parametrize("how", ["header", "query", "cookie"])
def test_ml_labs_token_places_work_through_nginx_for_the_api(
    manager: Manager, people: dict[str, str | None], how: str
) -> None:
    """Regression: nginx dropped the `ct_token` header (underscores are invalid to it by
    default), so ML Lab's way of sending tokens was answered with 401."""
    token = people["owner"]
    assert token
    with httpx.Client(base_url=manager.url, trust_env=False) as client:
        if how == "header":
            response = client.get("/api/users/me", headers={"ct_token": token})
        elif how == "query":
            response = client.get("/api/users/me", params={"ct_token": token})
        else:
            client.cookies.set("ct_token", token)
            response = client.get("/api/users/me")
    assert response.status_code == 200, (how, response.text)
    assert response.json()["id"] == owner_of(people, manager)


def hand_off(manager: Manager, token: str, user: str, workspace_id: str) -> tuple[str, str]:
    """(the path and query of the link `:open` answers with, the host it is for)."""
    with manager.client(token) as api:
        opened = api.post(f"/api/users/{user}/workspace/{workspace_id}:open")
    assert opened.status_code == 200, opened.text
    link = urlsplit(opened.json()["url"])
    return f"{link.path}?{link.query}", link.netloc


def test_the_hand_off_through_nginx_opens_one_workspace_once(
    manager: Manager, people: dict[str, str | None], running: dict[str, Any]
) -> None:
    owner, token = owner_of(people, manager), people["owner"]
    assert token
    link, host = hand_off(manager, token, owner, running["id"])
    # The port the manager was reached at; the manager's own host is not a workspace's.
    assert host == manager.workspace_host(running["id"])
    with manager.workspace_client(running["id"]) as browser:
        handed = browser.get(link)
        assert handed.status_code == 303, handed.text
        assert handed.headers["Location"] == running["access_url"]
        assert handed.headers["Cache-Control"] == "no-store"
        # On *.localhost browsers keep Secure cookies: a __Host- one, which no other host of
        # the site can set in its place. (httpx sends Secure cookies over https only.)
        cookie = handed.headers["set-cookie"]
        assert cookie.startswith("__Host-workspace_session=")
        for attribute in ("Secure", "HttpOnly", "SameSite=lax", "Path=/"):
            assert attribute.lower() in cookie.lower(), cookie
        assert "domain" not in cookie.lower()
        browser.headers["Cookie"] = cookie.split(";")[0]
        page = browser.get(handed.headers["Location"] + "tree")
        assert page.status_code == 200, page.text
        # Who may frame the workspace is the manager's to say: the app's origin, which asked.
        assert page.headers.get_list("Content-Security-Policy") == [
            f"frame-ancestors 'self' http://127.0.0.1:{manager.port}"
        ]
        # The session cookie never reaches the workspace.
        assert "workspace_session" not in json.dumps(page.json()["headers"])
        again = browser.get(link)
        assert again.status_code == 401
        assert "used already" in again.json()["detail"]
        # The session of one workspace opens no other (nginx's cached yes included).
        other = browser.get("/", headers={"Host": f"zzzzzzzzzz.lab.localhost:{manager.port}"})
        assert other.status_code in (401, 403)
    # A code is for its own host only.
    link, _ = hand_off(manager, token, owner, running["id"])
    with manager.workspace_client("zzzzzzzzzz") as elsewhere:
        assert elsewhere.get(link).status_code == 401


def test_pages_of_other_origins_cannot_write_to_a_workspace_or_open_its_sockets(
    manager: Manager, people: dict[str, str | None], running: dict[str, Any]
) -> None:
    """Browsers send Origin with writes and WebSocket handshakes; another workspace's page
    (same site, *.lab.localhost) is refused before the workspace, whatever cookies it carries."""
    own = manager.workspace_url(running["id"])
    bearer = {"Authorization": f"Bearer {people['owner']}"}
    with manager.workspace_client(running["id"]) as client:
        for origin in ("http://zzzzzzzzzz.lab.localhost:" + str(manager.port), "null", own + "x"):
            write = client.post("/workspaces/x/api/contents", headers={**bearer, "Origin": origin})
            assert write.status_code == 403, (origin, write.text)
            assert "another origin" in write.json()["detail"]
            socket = client.get(
                "/workspaces/x/api/kernels/k/channels",
                headers={
                    **bearer,
                    "Origin": origin,
                    "Connection": "Upgrade",
                    "Upgrade": "websocket",
                    "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                },
            )
            assert socket.status_code == 403, (origin, socket.text)
        # Its own origin, and scripts (no Origin), reach the workspace (the echo server has
        # no POST: 501 is its answer, not the proxy's).
        for headers in ({"Origin": own}, {}):
            assert client.post("/x", headers={**bearer, **headers}).status_code == 501
        # Reading may come from anywhere (navigations); the browser keeps foreign pages from
        # reading the answer (no CORS headers).
        read = client.get("/x", headers={**bearer, "Origin": "http://evil.lab.localhost"})
        assert read.status_code == 200
        assert "access-control-allow-origin" not in read.headers


def test_credential_cookies_never_reach_the_workspace(
    manager: Manager, people: dict[str, str | None], running: dict[str, Any]
) -> None:
    """Ours (`__Host-` names where browsers allow them) and up to four plain ones are taken
    out; more plain ones can only have been set by another host of the site ("tossed") and
    are passed on rather than refused, so tossing cannot lock anyone out."""
    token = people["owner"]
    with manager.workspace_client(running["id"], token) as client:
        four = "; ".join(f"{n}=v{i}" for i, n in enumerate(["ct_token", "workspace_session"] * 2))
        own = "__Host-workspace_session=mine; __Host-ct_token=mine"
        seen = client.get("/x", headers={"Cookie": f"a=1; {own}; {four}; b=2"})
        assert seen.status_code == 200
        assert seen.json()["headers"]["Cookie"] == "a=1; b=2"
        tossed = client.get("/x", headers={"Cookie": f"{own}; {four}; ct_token=v5"})
        assert tossed.status_code == 200
        assert "mine" not in tossed.text


def test_no_token_is_written_to_nginxs_cache(
    manager: Manager, people: dict[str, str | None], running: dict[str, Any]
) -> None:
    """The access cache is keyed by the workspace session cookie; requests with a token in a
    header are not cached, so no token reaches the cache files on disk."""
    tokens = [t for t in (people["owner"], people["admin"]) if t]
    with manager.workspace_client(running["id"]) as client:
        for token in tokens:
            assert client.get("/x", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert client.get("/x", headers={"ct_token": token}).status_code == 200
    for token in tokens:
        found = manager.container.exec_run(["grep", "-rlF", token, "/var/lib/nginx"])
        assert found.exit_code == 1, found.output  # 1: grep found nothing


def test_the_app_may_frame_workspace_origins_only(manager: Manager) -> None:
    with httpx.Client(base_url=manager.url, trust_env=False) as client:
        policy = client.get("/app/").headers["Content-Security-Policy"]
    assert "frame-src 'self' *.lab.localhost:*;" in policy


def test_one_callers_flood_of_api_requests_is_cut_off_by_nginx(manager: Manager) -> None:
    """Beyond API_RATE_LIMIT a second (bursts of twice that) nginx answers 429 itself, as
    JSON, before the backend is asked; another caller is not held up meanwhile."""
    import asyncio

    flooder, other = manager.token_for("flooder"), manager.token_for("bystander")

    async def flood() -> tuple[list[httpx.Response], httpx.Response]:
        async with httpx.AsyncClient(base_url=manager.url, trust_env=False, timeout=60) as client:
            mine = {"Authorization": f"Bearer {flooder}"}
            answers = await asyncio.gather(
                *(client.get("/api/users/me", headers=mine) for _ in range(400))
            )
            theirs = await client.get("/api/users/me", headers={"Authorization": f"Bearer {other}"})
            return list(answers), theirs

    answers, theirs = asyncio.run(flood())
    codes = [a.status_code for a in answers]
    assert set(codes) == {200, 429}, sorted(set(codes))
    assert codes.count(200) >= 100  # the burst (twice the default 50 a second) at least
    refused = next(a for a in answers if a.status_code == 429)
    assert "Too many requests from you" in refused.json()["detail"]
    assert refused.headers["Retry-After"] == "1"
    assert theirs.status_code == 200, theirs.text
