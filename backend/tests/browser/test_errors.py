"""What the browser shows when something is refused: an invalid name (inline, before the server
is asked), an image the server does not allow, a full quota, another user's workspaces."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.support.browser import NewPage, start_browser_manager
from tests.support.manager_image import Manager, stop_manager

from .ui import list_url, open_create_dialog, screenshot, sign_in, workspace_card

NOT_ALLOWED_IMAGE = "lwm-test-not-allowed:latest"


def create_by_api(manager: Manager, token: str, user: str, name: str) -> dict[str, Any]:
    """A workspace made without the browser, not started (quick)."""
    with manager.client(token) as client:
        response = client.post(
            f"/api/users/{user}/workspace", json={"display_name": name, "is_stopped": True}
        )
    assert response.status_code == 201, response.text
    return dict(response.json())


def workspaces_of(manager: Manager, token: str, user: str) -> list[str]:
    with manager.client(token) as client:
        response = client.get(f"/api/users/{user}/workspace")
    assert response.status_code == 200, response.text
    return [w["display_name"] for w in response.json()]


def choose_image(dialog: Locator, page: Page, display_name: str) -> None:
    """The image field, whether a native select or MUI's listbox."""
    field = dialog.get_by_label("Image")
    if field.evaluate("element => element.tagName") == "SELECT":
        field.select_option(label=display_name)
    else:
        field.click()
        page.get_by_role("option", name=display_name).click()


def test_an_invalid_name_is_shown_inline_and_nothing_is_created(
    manager: Manager, new_page: NewPage
) -> None:
    token = manager.token_for("ines")
    page = new_page()
    sign_in(page, token, "ines")
    dialog = open_create_dialog(page)
    name = dialog.get_by_label("Name")
    create = dialog.get_by_role("button", name="Create")
    # Too long cannot even be typed: the field stops at the server's maximum.
    name.fill("x" * 129)
    assert len(name.input_value()) == 128
    for invalid in ("", "tab\there"):
        name.fill(invalid)
        name.blur()
        if create.is_enabled():  # either refused on submit or not submittable at all
            create.click()
        expect(name).to_have_attribute("aria-invalid", "true")
        # The helper text under the field says what is wrong.
        expect(name).not_to_have_accessible_description("")
        expect(dialog).to_be_visible()
    screenshot(page, "create-dialog-invalid-name-light-wide")
    name.fill("fine")
    expect(name).not_to_have_attribute("aria-invalid", "true")
    assert workspaces_of(manager, token, "ines") == []


def test_the_servers_refusal_of_an_image_is_shown_in_the_dialog(
    manager: Manager, new_page: NewPage
) -> None:
    """The server refuses an image it does not allow. The UI only offers allowed ones, so the
    page is given a /config that also lists one more (as if the administrator removed it after
    the page was loaded); the server's real answer is what the dialog must show."""
    token = manager.token_for("ivo")
    # At 127.0.0.1: route.fetch() asks from Playwright's Node process, which (unlike the
    # browser) cannot resolve lab.localhost.
    page = new_page(base_url=manager.url + "/")

    def with_extra_image(route: Route) -> None:
        response = route.fetch()
        config = response.json()
        config["container_image_options"].append(
            {"image": NOT_ALLOWED_IMAGE, "display_name": "Removed meanwhile"}
        )
        route.fulfill(response=response, body=json.dumps(config))

    page.route(re.compile(r"/api/config(\?.*)?$"), with_extra_image)
    sign_in(page, token, "ivo")
    dialog = open_create_dialog(page)
    dialog.get_by_label("Name").fill("with a removed image")
    choose_image(dialog, page, "Removed meanwhile")
    dialog.get_by_role("button", name="Create").click()
    alert = dialog.get_by_role("alert")
    expect(alert).to_contain_text(
        f"container_image: '{NOT_ALLOWED_IMAGE}' is not an allowed image."
    )
    expect(dialog).to_be_visible()
    screenshot(page, "create-dialog-server-refusal-light-wide")
    assert workspaces_of(manager, token, "ivo") == []


@pytest.fixture(scope="module")
def one_each(engine: docker.DockerClient) -> Iterator[Manager]:
    """A manager that allows each user one workspace."""
    running = start_browser_manager(engine, {"USER_QUOTA_WORKSPACES": "1"})
    yield running
    stop_manager(engine, running)


def test_a_full_quota_is_explained_in_the_dialog(one_each: Manager, new_page: NewPage) -> None:
    token = one_each.token_for("quentin")
    create_by_api(one_each, token, "quentin", "the only one")
    page = new_page(on=one_each)
    sign_in(page, token, "quentin")
    expect(workspace_card(page, "the only one")).to_be_visible()
    dialog = open_create_dialog(page)
    dialog.get_by_label("Name").fill("one too many")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Quota reached: you may have at most 1")
    screenshot(page, "create-dialog-quota-light-wide")
    assert workspaces_of(one_each, token, "quentin") == ["the only one"]


def test_another_users_workspaces_stay_invisible(manager: Manager, new_page: NewPage) -> None:
    olga = manager.token_for("olga")
    private = create_by_api(manager, olga, "olga", "olga's private work")
    page = new_page()
    sign_in(page, manager.token_for("pete"), "pete")
    expect(page.get_by_text("No workspaces yet")).to_be_visible()

    refusal = "You are signed in as 'pete' and can only manage your own workspaces"
    for url in ("app/#/users/olga/workspace", f"app/#/users/olga/workspace/{private['id']}"):
        page.goto(url)
        expect(page.get_by_role("alert")).to_contain_text(refusal)
        expect(page.get_by_text("olga's private work")).to_have_count(0)
    screenshot(page, "other-users-list-light-wide")

    # Back on the own list: still only the own (none).
    page.goto("app/#/")
    expect(page).to_have_url(list_url("pete"))
    expect(page.get_by_text("No workspaces yet")).to_be_visible()
    expect(page.get_by_text("olga's private work")).to_have_count(0)
