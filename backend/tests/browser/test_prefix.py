"""The web app behind ML Lab: everything under a path prefix that ML Lab's proxy strips."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.support.browser import ML_LAB_PREFIX, NewPage
from tests.support.manager_image import Manager

from .prefix_proxy import prefix_proxy
from .ui import (
    WORKSPACE_TIMEOUT,
    create_workspace,
    open_in_new_tab,
    screenshot,
    sign_in,
    status_chip,
    workspace_origin,
)


def test_the_app_and_its_workspaces_work_under_ml_labs_prefix(
    behind_ml_lab: Manager, new_page: NewPage
) -> None:
    token = behind_ml_lab.token_for("yuki")
    with prefix_proxy(behind_ml_lab.url, ML_LAB_PREFIX) as (url, outside):
        page = new_page(base_url=url + "/")
        page.goto("app/")
        sign_in(page, token, "yuki")
        card = create_workspace(page, "behind ML Lab")
        expect(status_chip(card, "running")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
        screenshot(page, "list-under-prefix-light-wide")
        # The workspace on its own origin, reached directly, at the base path it has under
        # the prefix.
        tab = open_in_new_tab(page, card)
        origin = workspace_origin(behind_ml_lab.port, tab)
        assert tab.url.startswith(origin + ML_LAB_PREFIX + "/workspaces/"), tab.url
        tab.close()
        page.context.close()  # its event streams end before the proxy does
        # The browser asks for /favicon.ico by itself; everything else stayed under the prefix.
        assert [path for path in outside if path != "/favicon.ico"] == []
