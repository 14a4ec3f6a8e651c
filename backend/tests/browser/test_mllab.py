"""The web app inside ML Lab: the built image in ML Lab mode against a real ML Lab (contaxy
0.0.23), opened the way ML Lab opens an extension.

- The app is reached under the path ML Lab gives an extension (its API prefix, then the
  extension's access path), through the prefix proxy that strips it as ML Lab's proxy does.
- The user is signed in to ML Lab only: the `ct_token` cookie ML Lab's web app leaves behind
  (HttpOnly, Path=/) is all the app gets; the route is the extension's, with `?project=` inside
  the hash.
- contaxy listens on the host's loopback, so the manager's container reaches it through a
  second proxy on the Docker bridge's gateway.
- Workspaces are ML Lab services (the `mllab` backend, ML Lab mode's default): contaxy deploys
  them on the engine and reports their status.

contaxy's API server does not proxy service access (in ML Lab, its nginx does, forwarding the
full path for an `8080b` endpoint), so the Open link is followed through a stand-in for that
proxy: the link's path forwarded unchanged to the workspace.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import docker
import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import NewPage, start_browser_manager
from tests.support.contaxy_server import Contaxy
from tests.support.engine import bridge_gateway, owned
from tests.support.manager_image import Manager, behind_a_proxy, stop_manager

from .prefix_proxy import prefix_proxy
from .ui import (
    JUPYTER_TITLE,
    WORKSPACE_TIMEOUT,
    assert_accessible,
    create_workspace,
    open_in_new_tab,
    screenshot,
    status_chip,
    workspace_card,
    workspace_origin,
)

# ML Lab's API prefix. ML Lab serves contaxy at /api (CONTAXY_BASE_URL=/api); the contaxy here
# is served at the root (CONTAXY_BASE_URL empty), and services' URLs follow it.
LAB_API = ""
EXTENSION = "ctxy-p-ctxy-global-s-workspaces"
PREFIX = f"{LAB_API}/projects/ctxy-global/services/{EXTENSION}/access/8080"


@pytest.fixture(scope="module")
def lab_users(contaxy: Contaxy, engine: docker.DockerClient) -> Iterator[list[str]]:
    """The ML Lab users this module makes; their services, containers and volumes go after."""
    users: list[str] = []
    yield users
    with contaxy.client() as admin:
        for user in users:
            for service in admin.get(f"/projects/{user}/services").json():
                admin.delete(
                    f"/projects/{user}/services/{service['id']}", params={"delete_volumes": "true"}
                )
    # contaxy leaves a stopped service's volume behind: remove what is left by label.
    for user in users:
        mine = {"label": [f"ctxy.namespace={contaxy.namespace}", f"ctxy.projectName={user}"]}
        for container in engine.containers.list(all=True, filters=mine):
            container.remove(force=True, v=True)
        for volume in engine.volumes.list(filters=mine):
            volume.remove(force=True)


@pytest.fixture(scope="module")
def lab_api(contaxy: Contaxy, engine: docker.DockerClient) -> Iterator[str]:
    """contaxy's API as the managers' containers reach it."""
    with prefix_proxy(contaxy.endpoint, "", host=bridge_gateway(engine)) as (url, _):
        yield url


def start_lab_manager(engine: docker.DockerClient, lab_api: str, backend: str) -> Manager:
    environment, port = behind_a_proxy(
        {
            "CONTAXY_API_ENDPOINT": lab_api,
            "CONTAXY_DEPLOYMENT_NAME": EXTENSION,
            "WORKSPACE_PUBLIC_PREFIX": PREFIX,
            "WORKSPACE_BACKEND": backend,
        }
    )
    manager = start_browser_manager(engine, environment, port)
    with manager.client() as client:
        health = client.get("/api/healthz").json()
    if health["auth_mode"] != "mllab":
        stop_manager(engine, manager)
        pytest.fail(f"the manager did not start in ML Lab mode: {health}")
    return manager


@pytest.fixture(scope="module")
def manager(lab_api: str, engine: docker.DockerClient) -> Iterator[Manager]:
    """The image in ML Lab mode with ML Lab services as workspaces (ML Lab mode's default
    backend); overrides the package's standalone manager for `new_page`."""
    running = start_lab_manager(engine, lab_api, "mllab")
    yield running
    stop_manager(engine, running)


@pytest.fixture(scope="module")
def app_url(manager: Manager) -> Iterator[str]:
    """The manager as ML Lab shows it: under the extension's path on ML Lab's API."""
    with prefix_proxy(manager.url, PREFIX) as (url, outside):
        yield url
    # An absolute URL in the app would leave ML Lab's prefix (the browser's own favicon.ico
    # request aside).
    assert [path for path in outside if path != "/favicon.ico"] == []


def lab_user(contaxy: Contaxy, users: list[str]) -> tuple[str, str]:
    user_id, token = contaxy.add_user("w" + secrets.token_hex(4))
    users.append(user_id)
    return user_id, token


def open_in_lab(page: Page, user_id: str, token: str | None) -> None:
    """Open the extension's page as ML Lab's web app does, with its session cookie."""
    if token is not None:
        page.context.add_cookies(
            [
                {
                    "name": "ct_token",
                    "value": token,
                    "domain": "127.0.0.1",
                    "path": "/",
                    "httpOnly": True,
                }
            ]
        )
    page.goto(f"app/#/users/{user_id}/workspace?project={user_id}")


def answers(url: str, within: float = 60) -> None:
    """Wait until `url` answers without a server error (ML Lab's proxy would say 502 until
    then)."""
    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(url, trust_env=False, follow_redirects=True).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer within {within} s")
        time.sleep(0.5)


def services_of(contaxy: Contaxy, token: str, user_id: str) -> list[dict[str, Any]]:
    with contaxy.client(token) as lab:
        response = lab.get(f"/projects/{user_id}/services")
    assert response.status_code == 200, response.text
    return list(response.json())


def test_an_ml_lab_user_manages_ml_lab_services_in_the_browser(
    new_page: NewPage,
    app_url: str,
    manager: Manager,
    contaxy: Contaxy,
    engine: docker.DockerClient,
    lab_users: list[str],
) -> None:
    alice, alice_token = lab_user(contaxy, lab_users)
    page = new_page(base_url=app_url + "/")
    open_in_lab(page, alice, alice_token)
    heading = page.get_by_role("heading", level=1, name="Workspaces")
    expect(heading).to_be_visible()
    expect(page.get_by_text("No workspaces yet")).to_be_visible()
    expect(page.get_by_label("Access token")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    card = create_workspace(page, "in the lab")
    # contaxy's report, passed on: running, with the backend's message for it.
    expect(status_chip(card, "running")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    expect(card.get_by_text("Running.", exact=True)).to_be_visible()
    (service,) = services_of(contaxy, alice_token, alice)
    assert service["status"] == "running"
    assert service["metadata"]["lwm.display-name"] == "in the lab"
    screenshot(page, "mllab-list-light-wide")
    assert_accessible(page, "the list in ML Lab mode")

    # Another ML Lab user sees none of it, and is refused at alice's list.
    bob, bob_token = lab_user(contaxy, lab_users)
    other = new_page(base_url=app_url + "/")
    open_in_lab(other, bob, bob_token)
    expect(other.get_by_text("No workspaces yet")).to_be_visible()
    with manager.client(bob_token) as client:
        refused = client.get(f"/api/users/{alice}/workspace")
    assert refused.status_code == 403, refused.text
    other.goto(f"app/#/users/{alice}/workspace?project={alice}")
    expect(other.get_by_role("alert")).to_contain_text(refused.json()["detail"])
    expect(workspace_card(other, "in the lab")).to_have_count(0)
    # Nothing suggests bob could manage alice's list: he is no administrator.
    expect(other.get_by_text("managed by you as an administrator")).to_have_count(0)
    expect(other.get_by_role("button", name="New workspace")).to_have_count(0)
    screenshot(other, "mllab-other-users-list-refused")
    other.context.close()

    # Open: an ML Lab service, so the tab goes under ML Lab's API prefix.
    access = f"/projects/{alice}/services/{service['id']}/access/8080b/"
    # (ML Lab's API answers there; this stand-in for ML Lab's proxy serves only the app.)
    stand_in = f"**{access}"
    page.context.route(stand_in, lambda route: route.fulfill(body="ML Lab's proxy"))
    with page.context.expect_page() as opened:
        card.get_by_role("button", name="Open").click()
    tab = opened.value
    tab.wait_for_url(re.compile(re.escape(LAB_API + access) + "$"))
    tab.close()
    page.context.unroute(stand_in)
    # ...which is where the workspace serves itself (its base URL comes from contaxy).
    container = engine.containers.get(service["id"])
    env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
    assert env["WORKSPACE_BASE_URL"] + "/" == LAB_API + access
    # ML Lab's proxy forwards an 8080b endpoint's full path; a stand-in for it does the same.
    address = next(iter(container.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    with prefix_proxy(f"http://{address}:8080", "") as (service_proxy, _):
        # contaxy reports "running" once the container runs; Jupyter answers a little later.
        answers(service_proxy + LAB_API + access)
        tab = page.context.new_page()
        tab.goto(service_proxy + LAB_API + access)
        expect(tab).to_have_title(JUPYTER_TITLE)
        tab.close()

    card.get_by_role("button", name="Stop").click()
    expect(status_chip(card, "stopped")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    assert [s["status"] for s in services_of(contaxy, alice_token, alice)] == ["stopped"]

    card.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete workspace")
    dialog.get_by_label("Also delete its data in /workspace").check()
    dialog.get_by_role("button", name="Delete").click()
    expect(card).to_have_count(0, timeout=WORKSPACE_TIMEOUT)
    expect(page.get_by_text("No workspaces yet")).to_be_visible()
    assert services_of(contaxy, alice_token, alice) == []
    left = {"label": [f"ctxy.namespace={contaxy.namespace}", f"ctxy.projectName={alice}"]}
    assert engine.containers.list(all=True, filters=left) == []
    assert engine.volumes.list(filters=left) == []


@pytest.mark.parametrize("token", [None, "f" * 40], ids=["no-token", "invalid-token"])
def test_without_an_ml_lab_session_the_app_sends_people_to_ml_lab(
    new_page: NewPage, app_url: str, token: str | None
) -> None:
    page = new_page(base_url=app_url + "/")
    open_in_lab(page, "someone", token)
    expect(page.get_by_text("Sign in to ML Lab first")).to_be_visible()
    expect(page.get_by_label("Access token")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"#/users/someone/workspace\?project=someone$"))
    screenshot(page, f"mllab-signed-out-{'no' if token is None else 'invalid'}-token")


def test_ml_lab_mode_with_workspaces_on_the_docker_engine(
    new_page: NewPage,
    lab_api: str,
    contaxy: Contaxy,
    engine: docker.DockerClient,
    lab_users: list[str],
) -> None:
    """WORKSPACE_BACKEND=docker: ML Lab's users and tokens, the manager's own workspaces and
    proxy."""
    docker_manager = start_lab_manager(engine, lab_api, "docker")
    try:
        alice, alice_token = lab_user(contaxy, lab_users)
        with prefix_proxy(docker_manager.url, PREFIX) as (url, outside):
            page = new_page(base_url=url + "/")
            open_in_lab(page, alice, alice_token)
            expect(page.get_by_role("heading", level=1, name="Workspaces")).to_be_visible()
            card = create_workspace(page, "on the engine")
            expect(status_chip(card, "running")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
            # The manager hands the tab on to the workspace's own origin (with ML Lab's token).
            tab = open_in_new_tab(page, card)
            origin = workspace_origin(docker_manager.port, tab)
            assert tab.url.startswith(origin + PREFIX + "/workspaces/"), tab.url
            tab.close()
            card.get_by_role("button", name="Stop").click()
            expect(status_chip(card, "stopped")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
            card.get_by_role("button", name="Delete").click()
            dialog = page.get_by_role("dialog", name="Delete workspace")
            dialog.get_by_label("Also delete its data in /workspace").check()
            dialog.get_by_role("button", name="Delete").click()
            expect(card).to_have_count(0, timeout=WORKSPACE_TIMEOUT)
            page.context.close()  # its event streams end before the proxy does
        assert [path for path in outside if path != "/favicon.ico"] == []
        # The workspace and its volume are gone (the user's network may stay for their next).
        left = owned(engine, docker_manager.instance)
        assert (left["containers"], left["volumes"]) == ([], []), left
    finally:
        stop_manager(engine, docker_manager)
