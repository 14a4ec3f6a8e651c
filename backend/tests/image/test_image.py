"""The image as users run it: nginx, the API under /api, and the authenticated workspace proxy."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import docker
import pytest

from tests.support.images import ECHO_IMAGE
from tests.support.jupyter import execute, open_channels, start_kernel
from tests.support.manager_image import IMAGE, Manager, start_manager, stop_manager
from tests.support.settings import SESSION_INSTANCE

JUPYTER_TITLE = "<title>Home Page - Select or create a notebook</title>"


def create_running(manager: Manager, token: str, user: str, **body: Any) -> dict[str, Any]:
    with manager.client(token) as client:
        response = client.post(
            f"/api/users/{user}/workspace",
            params={"wait": "true"},
            json={"display_name": "w" + secrets.token_hex(3), "compute": {"cpus": 0.5}, **body},
        )
    assert response.status_code == 201, response.text
    workspace = response.json()
    assert workspace["status"] == "running", workspace
    return dict(workspace)


def address_of(engine: docker.DockerClient, manager: Manager, workspace_id: str) -> str:
    container = engine.containers.list(
        filters={
            "label": [
                f"lwm.instance={manager.instance}",
                "lwm.kind=workspace",
                f"lwm.workspace={workspace_id}",
            ]
        }
    )[0]
    return str(next(iter(container.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"])


def test_nginx_answers_health_and_redirects_relatively(manager: Manager) -> None:
    with manager.client() as client:
        assert client.get("/healthy").text == "ok\n"
        assert client.get("/ping").text == "pong\n"
        for path in ("/", "/app"):
            redirect = client.get(path)
            assert redirect.status_code == 302
            # Relative, so it also works behind ML Lab's path prefix.
            assert redirect.headers["Location"] == "app/"
        assert client.get("/api/healthz").json()["status"] == "ok"
        assert client.get("/api/users/me").status_code == 401
        # At localhost (the README's address) the app moves on to lab.localhost, of the same
        # site as the workspaces (<id>.lab.localhost); the API stays, as behind a proxy.
        at_localhost = {"Host": f"localhost:{manager.port}"}
        for path in ("/", "/app/", "/app/assets/x.js"):  # (browsers keep the #fragment)
            moved = client.get(path, headers=at_localhost)
            assert moved.status_code == 302
            assert moved.headers["Location"] == f"http://lab.localhost:{manager.port}{path}"
        assert client.get("/api/healthz", headers=at_localhost).status_code == 200
        proxied = {**at_localhost, "X-Forwarded-Host": "lab.example.org"}
        assert client.get("/app/", headers=proxied).status_code == 200
        docs = client.get("/api/docs")
        assert docs.status_code == 200
        assert "url: 'openapi.json'" in docs.text  # relative: works under any prefix
        assert client.get("/api/openapi.json").json()["info"]["title"] == "ML Lab Workspace Manager"


def references_in(index_html: str) -> list[str]:
    """What index.html loads (scripts, styles, icons) from the server: its src and href
    attributes, without inline data: URLs."""
    found = re.findall(r'(?:src|href)="([^"]+)"', index_html)
    return [reference for reference in found if not reference.startswith("data:")]


def test_the_web_app_index_is_never_cached_and_its_hashed_assets_are(manager: Manager) -> None:
    with manager.client() as client:
        for path in ("/app/", "/app/index.html", "/app/some/deep/link"):
            index = client.get(path)
            assert index.status_code == 200, path
            assert '<div id="root">' in index.text, path
            assert index.headers["Cache-Control"] == "no-cache", path
        assets = [ref for ref in references_in(index.text) if ref.startswith("./assets/")]
        assert any(ref.endswith(".js") for ref in assets), index.text
        for asset in assets:
            response = client.get("/app/" + asset.removeprefix("./"))
            assert response.status_code == 200, asset
            cache = ", ".join(response.headers.get_list("Cache-Control"))
            assert "max-age=31536000" in cache and "immutable" in cache, (asset, cache)
            assert "no-cache" not in cache, (asset, cache)
        missing = client.get("/app/assets/no-such-file.js")
        assert missing.status_code == 404  # not index.html with a year of caching


def test_the_healthcheck_checks_the_backend_too(manager: Manager) -> None:
    check = manager.container.attrs["Config"]["Healthcheck"]["Test"]
    assert "/api/healthz" in " ".join(check)
    command = ["sh", "-c", check[1]] if check[0] == "CMD-SHELL" else check[1:]
    exit_code, output = manager.container.exec_run(command)
    assert exit_code == 0, output


def test_servers_run_without_root(manager: Manager) -> None:
    processes = manager.container.top(ps_args="-eo pid,uid,comm")["Processes"]
    servers = [p for p in processes if p[2].startswith(("python", "nginx"))]
    assert len(servers) >= 2, processes
    assert all(uid == "8080" for _, uid, _ in servers), servers


def test_a_workspace_through_the_proxy(manager: Manager) -> None:
    """On its own origin, a script opens a workspace with its token in a header; the
    manager's cookie and a token in the query open nothing there."""
    alice = manager.token_for("alice")
    workspace = create_running(manager, alice, "alice")
    path = f"/workspaces/{workspace['id']}/tree"
    assert workspace["access_url"] == f"/workspaces/{workspace['id']}/"
    with manager.workspace_client(workspace["id"], alice) as client:
        page = client.get(path)
        assert page.status_code == 200
        assert JUPYTER_TITLE in page.text
    with manager.workspace_client(workspace["id"]) as anonymous:
        refused = anonymous.get(path)
        assert refused.status_code == 401
        assert "Open this workspace from the web app" in refused.json()["detail"]
        assert anonymous.get(path, params={"ct_token": alice}).status_code == 401
        anonymous.cookies.set("ct_token", alice)
        assert anonymous.get(path).status_code == 401
    with manager.workspace_client(workspace["id"], manager.token_for("bob")) as bob:
        assert bob.get(path).status_code == 403
    with manager.workspace_client(workspace["id"], manager.admin_token) as admin:
        assert admin.get(path).status_code == 200
    with manager.client(alice) as on_the_manager:
        # The manager's origin serves no workspace, and says where they are.
        elsewhere = on_the_manager.get(path)
        assert elsewhere.status_code == 404
        assert "addresses of their own" in elsewhere.json()["detail"]
    with manager.workspace_client(workspace["id"], alice) as client:
        assert client.get(path).status_code == 200
        with manager.client(alice) as api:
            stopped = api.post(f"/api/users/alice/workspace/{workspace['id']}:stop")
        assert stopped.json()["status"] == "stopped"
        # Nothing answers at the remembered address: nginx asks again and hears "stopped".
        refused = client.get(path)
        assert refused.status_code == 403
        assert "not running" in refused.json()["detail"]


def test_a_kernel_answers_over_a_websocket_through_the_proxy(manager: Manager) -> None:
    token = manager.token_for("carol")
    workspace = create_running(manager, token, "carol")
    base = manager.workspace_url(workspace["id"]) + workspace["access_url"]
    with manager.workspace_client(workspace["id"], token) as client:
        kernel_id = start_kernel(workspace["access_url"], client)
    through = manager.url.removeprefix("http://")
    with open_channels(base, kernel_id, {"Authorization": f"Bearer {token}"}, through) as socket:
        assert execute(socket, "print(6 * 7)") == "42\n"


def test_the_websocket_is_refused_to_others(manager: Manager) -> None:
    owner = manager.token_for("dave")
    workspace = create_running(manager, owner, "dave")
    base = manager.workspace_url(workspace["id"]) + workspace["access_url"]
    bob = manager.token_for("bob")
    through = manager.url.removeprefix("http://")
    with pytest.raises(Exception, match="403"):
        open_channels(base, "x", {"Authorization": f"Bearer {bob}"}, through)


def test_users_workspaces_stay_apart_behind_the_manager(
    manager: Manager, engine: docker.DockerClient
) -> None:
    """The manager joins every user's network; that must not join the users' networks."""
    erin = create_running(manager, manager.token_for("erin"), "erin")
    frank = create_running(manager, manager.token_for("frank"), "frank")
    target = f"http://{address_of(engine, manager, erin['id'])}:8080{erin['access_url']}"
    frank_container = engine.containers.list(
        filters={
            "label": [
                f"lwm.instance={manager.instance}",
                f"lwm.workspace={frank['id']}",
                "lwm.kind=workspace",
            ]
        }
    )[0]
    exit_code, _ = frank_container.exec_run(["curl", "-s", "-m", "3", "-o", "/dev/null", target])
    assert exit_code != 0
    exit_code, _ = manager.container.exec_run(["curl", "-s", "-m", "3", "-o", "/dev/null", target])
    assert exit_code == 0, "control: the manager itself reaches the workspace"


def test_delete_through_the_image_leaves_nothing(
    manager: Manager, engine: docker.DockerClient
) -> None:
    token = manager.token_for("gina")
    workspace = create_running(manager, token, "gina")
    with manager.client(token) as client:
        deleted = client.delete(
            f"/api/users/gina/workspace/{workspace['id']}", params={"delete_volumes": "true"}
        )
        assert deleted.status_code == 204
    mine = {"label": [f"lwm.instance={manager.instance}", "lwm.owner=gina"]}
    assert engine.containers.list(all=True, filters=mine) == []
    assert engine.volumes.list(filters=mine) == []
    assert engine.networks.list(filters=mine) == []


@pytest.fixture(scope="module")
def prefixed(engine: docker.DockerClient) -> Iterator[Manager]:
    """A manager behind ML Lab: ML Lab strips this prefix before forwarding to port 8080."""
    running = start_manager(
        engine,
        environment={
            "WORKSPACE_PUBLIC_PREFIX": "/projects/ctxy-global/services/lab-ws/access/8080",
        },
    )
    yield running
    stop_manager(engine, running)


def test_workspaces_work_under_ml_labs_path_prefix(prefixed: Manager) -> None:
    """ML Lab shows the app under its prefix; the workspaces are on origins of their own,
    reached directly, at the same base path (their WORKSPACE_BASE_URL)."""
    prefix = "/projects/ctxy-global/services/lab-ws/access/8080"
    token = prefixed.token_for("hana")
    workspace = create_running(prefixed, token, "hana")
    assert workspace["access_url"] == f"{prefix}/workspaces/{workspace['id']}/"
    with prefixed.workspace_client(workspace["id"], token) as client:
        page = client.get(f"{prefix}/workspaces/{workspace['id']}/tree")
        assert page.status_code == 200
        assert JUPYTER_TITLE in page.text
        assert f'data-base-url="{prefix}/workspaces/{workspace["id"]}/"' in page.text
    with prefixed.client(token) as client:
        redirect = client.get("/app")
        assert redirect.headers["Location"] == "app/"


def test_the_unsafe_way_serves_workspaces_under_ml_labs_prefix(engine: docker.DockerClient) -> None:
    """UNSAFE_WORKSPACES_ON_MANAGER_ORIGIN: what ML Lab forwards (the path without its
    prefix) reaches the workspace, which gets the prefix back; the start log warns."""
    prefix = "/projects/ctxy-global/services/lab-ws/access/8080"
    unsafe = start_manager(
        engine,
        environment={
            "WORKSPACE_PUBLIC_PREFIX": prefix,
            "UNSAFE_WORKSPACES_ON_MANAGER_ORIGIN": "true",
        },
    )
    try:
        token = unsafe.token_for("hana")
        workspace = create_running(unsafe, token, "hana")
        with unsafe.client(token) as client:
            page = client.get(f"/workspaces/{workspace['id']}/tree")
            assert page.status_code == 200
            assert f'data-base-url="{prefix}/workspaces/{workspace["id"]}/"' in page.text
            opened = client.post(f"/api/users/hana/workspace/{workspace['id']}:open")
            assert opened.json()["url"] == workspace["access_url"]
            assert client.get("/api/config").json()["workspaces_on_manager_origin"] is True
        assert "UNSAFE_WORKSPACES_ON_MANAGER_ORIGIN is set" in unsafe.container.logs().decode()
    finally:
        stop_manager(engine, unsafe)


def test_the_web_app_loads_under_ml_labs_path_prefix(prefixed: Manager) -> None:
    """Every URL in index.html is relative: resolved under ML Lab's prefix, it is still the
    manager's (what ML Lab forwards, with the prefix stripped, is served)."""
    prefix = "/projects/ctxy-global/services/lab-ws/access/8080"
    with prefixed.client() as client:
        index = client.get("/app/")
        assert index.status_code == 200
        references = references_in(index.text)
        assert references, index.text
        for reference in references:
            outside = urljoin(f"https://lab.example{prefix}/app/", reference)
            assert outside.startswith(f"https://lab.example{prefix}/app/"), reference
            forwarded = outside.removeprefix(f"https://lab.example{prefix}")
            assert client.get(forwarded).status_code == 200, forwarded


def test_tokens_do_not_reach_the_logs(manager: Manager) -> None:
    token = manager.token_for("ivan")
    with manager.client() as client:
        client.get("/api/users/me", params={"ct_token": token})
        client.get("/workspaces/abcdefghij/tree", params={"ct_token": token})
        client.get(
            "/workspaces/abcdefghij/tree",
            params={"ct_token": token},
            headers={"Host": manager.workspace_host("abcdefghij")},
        )
    logs = manager.container.logs().decode(errors="replace")
    assert token not in logs
    assert manager.admin_token not in logs


def test_signals_stop_it_cleanly_and_a_dead_server_stops_it(engine: docker.DockerClient) -> None:
    first = start_manager(engine)
    try:
        first.container.stop(timeout=20)
        first.container.reload()
        assert first.container.attrs["State"]["ExitCode"] == 0
    finally:
        stop_manager(engine, first)
    second = start_manager(engine)
    try:
        second.container.exec_run(["sh", "-c", "kill $(cat /run/nginx/nginx.pid)"])
        second.container.wait(timeout=30)
        second.container.reload()
        # Not 0: the engine's restart policy (on-failure / unless-stopped) brings it back.
        assert second.container.attrs["State"]["ExitCode"] != 0
        assert "stopping the other" in second.container.logs().decode()
    finally:
        stop_manager(engine, second)


def test_an_invalid_image_setting_stops_the_start_with_its_name_and_value(
    engine: docker.DockerClient,
) -> None:
    """The {"image", "display_name"} form of WORKSPACE_IMAGE_OPTIONS, given to
    WORKSPACE_IMAGE_DEFAULT with a name that is no image reference: once served as an image
    *name* by /config, now a clear refusal at start."""
    value = '{"image": "Not An Image", "display_name": "X"}'
    container = engine.containers.run(
        IMAGE,
        detach=True,
        environment={"ADMIN_TOKEN": "a" * 20, "WORKSPACE_IMAGE_DEFAULT": value},
        labels={"lwm.instance": SESSION_INSTANCE},
    )
    try:
        assert container.wait(timeout=60)["StatusCode"] != 0
        logs = container.logs().decode()
        assert "settings are invalid" in logs
        assert "WORKSPACE_IMAGE_DEFAULT='Not An Image': not a Docker image reference" in logs
    finally:
        container.remove(force=True, v=True)


def test_the_workspace_never_sees_the_managers_credentials(manager: Manager) -> None:
    token = manager.token_for("jane")
    workspace = create_running(manager, token, "jane", container_image=ECHO_IMAGE)
    path = f"/workspaces/{workspace['id']}/some/page?x=1"
    with manager.workspace_client(workspace["id"]) as client:
        client.cookies.set("ct_token", token)
        client.cookies.set("workspace_session", "a-session")
        client.cookies.set("theirs", "kept")
        seen = client.get(path, headers={"ct_token": token}).json()
    assert seen["path"] == path  # the full path, unchanged
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert token not in json.dumps(headers)
    assert "authorization" not in headers
    assert "ct_token" not in headers
    assert "x-workspace-id" not in headers
    assert headers["cookie"].strip("; ") == "theirs=kept"
    # The browser's host, with its port: the workspace's own origin.
    assert headers["host"] == manager.workspace_host(workspace["id"])
