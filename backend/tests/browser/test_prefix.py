"""The web app behind ML Lab: everything under a path prefix that ML Lab's proxy strips."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest
from playwright.sync_api import expect

from tests.image.conftest import Manager, stop_manager

from .conftest import NewPage, start_browser_manager
from .prefix_proxy import prefix_proxy
from .ui import (
    WORKSPACE_TIMEOUT,
    create_workspace,
    open_in_new_tab,
    screenshot,
    sign_in,
    status_chip,
)

PREFIX = "/projects/ctxy-global/services/lab-ws/access/8080"


@pytest.fixture(scope="module")
def behind_ml_lab(engine: docker.DockerClient) -> Iterator[Manager]:
    running = start_browser_manager(engine, {"WORKSPACE_PUBLIC_PREFIX": PREFIX})
    yield running
    stop_manager(engine, running)


def test_the_app_and_its_workspaces_work_under_ml_labs_prefix(
    behind_ml_lab: Manager, new_page: NewPage
) -> None:
    token = behind_ml_lab.token_for("yuki")
    with prefix_proxy(behind_ml_lab.url, PREFIX) as (url, outside):
        page = new_page(base_url=url + "/")
        page.goto("app/")
        sign_in(page, token, "yuki")
        card = create_workspace(page, "behind ML Lab")
        expect(status_chip(card, "running")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
        screenshot(page, "list-under-prefix-light-wide")
        tab = open_in_new_tab(page, card)
        assert tab.url.startswith(url + "/workspaces/"), tab.url
        tab.close()
        page.context.close()  # its event streams end before the proxy does
        # The browser asks for /favicon.ico by itself; everything else stayed under the prefix.
        assert [path for path in outside if path != "/favicon.ico"] == []
