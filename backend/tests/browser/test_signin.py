"""Standalone sign-in in the browser: a token the administrator issued opens the user's list."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.browser import NewPage
from tests.support.manager_image import Manager

from .ui import assert_accessible, list_url, screenshot, sign_in


def test_sign_in_with_an_issued_token_and_sign_out(manager: Manager, new_page: NewPage) -> None:
    token = manager.token_for("sam")
    page = new_page()
    # Not signed in: the app sends the visitor to the sign-in page.
    page.goto("app/")
    expect(page).to_have_url(re.compile(r"#/signin"))
    expect(page.get_by_label("Access token")).to_be_visible()
    screenshot(page, "signin-light-wide")
    assert_accessible(page, "the sign-in page")

    # A wrong token: the server's message, and still on the sign-in page.
    page.get_by_label("Access token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("alert")).not_to_be_empty()
    expect(page).to_have_url(re.compile(r"#/signin"))

    sign_in(page, token, "sam")
    expect(page.get_by_text("sam", exact=True).first).to_be_visible()  # who is signed in
    expect(page.get_by_text("No workspaces yet")).to_be_visible()
    screenshot(page, "list-empty-light-wide")
    assert_accessible(page, "the empty list")

    # The sign-in is a cookie: a reload keeps it, and #/ leads back to the own list.
    page.goto("app/#/")
    expect(page).to_have_url(list_url("sam"))

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"#/signin"))
    page.goto("app/#/")
    expect(page).to_have_url(re.compile(r"#/signin"))
