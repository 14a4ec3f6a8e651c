"""The administrator's pages: every user's workspaces, and issuing and revoking user tokens."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import NewPage
from tests.support.manager_image import Manager

from .test_errors import create_by_api
from .ui import WORKSPACE_TIMEOUT, assert_accessible, list_url, screenshot, sign_in


def test_all_workspaces_searched_and_stopped_by_the_administrator(
    manager: Manager, new_page: NewPage
) -> None:
    rosa = manager.token_for("rosa")
    with manager.client(rosa) as client:
        started = client.post(
            "/api/users/rosa/workspace",
            params={"wait": "true"},
            json={"display_name": "rosa's training run"},
        )
        assert started.status_code == 201, started.text
    create_by_api(manager, manager.token_for("uwe"), "uwe", "uwe's notes")

    page = new_page()
    sign_in(page, manager.admin_token, "admin")
    page.get_by_role("link", name="All workspaces").click()
    expect(page).to_have_url(re.compile(r"#/admin/workspaces"))
    expect(page.get_by_role("heading", level=1, name="All workspaces")).to_be_visible()
    expect(page.get_by_text("rosa's training run")).to_be_visible()
    expect(page.get_by_text("uwe's notes")).to_be_visible()
    screenshot(page, "admin-workspaces-all-users-light-wide")
    assert_accessible(page, "the administrator's list of all workspaces")

    page.get_by_role("textbox", name="Search").fill("rosa")
    expect(page.get_by_text("uwe's notes")).to_have_count(0)
    row = page.get_by_role("row").filter(has_text="rosa's training run")
    expect(row.get_by_text("running", exact=True)).to_be_visible()
    row.get_by_role("button", name="Stop").click()
    expect(row.get_by_text("stopped", exact=True)).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    with manager.client(rosa) as client:
        assert client.get("/api/users/rosa/workspace").json()[0]["status"] == "stopped"


def test_tokens_issued_and_revoked_in_the_browser(manager: Manager, new_page: NewPage) -> None:
    admin = new_page()
    sign_in(admin, manager.admin_token, "admin")
    admin.get_by_role("link", name="User tokens").click()
    expect(admin).to_have_url(re.compile(r"#/admin/tokens"))
    expect(admin.get_by_role("heading", level=1, name="User tokens")).to_be_visible()
    admin.get_by_role("textbox", name="User id").fill("vera")
    admin.get_by_role("button", name="Issue token").click()
    new_token = admin.get_by_role("textbox", name="New token")
    expect(new_token).not_to_have_value("")
    token = new_token.input_value()
    screenshot(admin, "admin-tokens-issued-light-wide")
    assert_accessible(admin, "the administrator's token page")

    # vera signs in with it, in a browser of her own.
    vera = new_page()
    sign_in(vera, token, "vera")

    row = admin.get_by_role("row").filter(has_text="vera")
    row.get_by_role("button", name="Revoke").click()
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)

    # Revoked: her open page loses its sign-in, and signing in again fails.
    vera.reload()
    expect(vera).to_have_url(re.compile(r"#/signin"))
    fresh = new_page()
    fresh.goto("app/#/signin")
    fresh.get_by_label("Access token").fill(token)
    fresh.get_by_role("button", name="Sign in").click()
    expect(fresh.get_by_role("alert")).to_be_visible()
    expect(fresh).not_to_have_url(list_url("vera"))


def test_the_metrics_page_shows_what_the_manager_counts(
    manager: Manager, new_page: NewPage
) -> None:
    create_by_api(manager, manager.token_for("wim"), "wim", "wim's stopped one")
    page = new_page()
    sign_in(page, manager.admin_token, "admin")
    page.get_by_role("link", name="Metrics").click()
    expect(page).to_have_url(re.compile(r"#/admin/metrics"))
    expect(page.get_by_role("heading", level=1, name="Metrics")).to_be_visible()
    # Read from the manager's own /api/metrics with the administrator's sign-in.
    expect(page.get_by_label("Stopped", exact=True)).to_have_text(re.compile(r"^[1-9][0-9]*$"))
    expect(page.get_by_label("Running", exact=True)).to_have_text(re.compile(r"^[0-9]+$"))
    expect(page.get_by_label("Failures by reason")).to_contain_text("Quota reached")
    expect(page.get_by_role("link", name=f"{manager.browser_url}/api/metrics")).to_be_visible()
    assert_accessible(page, "the administrator's metrics")
