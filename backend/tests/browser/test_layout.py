"""The main pages in light and dark, on a laptop and in a narrow window: they follow the
system's colour scheme, fit the width, pass axe-core, and leave screenshots for reviewers."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import NewPage
from tests.support.manager_image import Manager

from .test_errors import create_by_api
from .ui import (
    assert_accessible,
    list_url,
    open_create_dialog,
    screenshot,
    sign_in,
    workspace_card,
)

# The page's background as the user sees it: the first opaque one from the body up.
BACKGROUND_LUMINANCE = """() => {
    for (const element of [document.body, document.documentElement]) {
        const [r, g, b, a = 1] = getComputedStyle(element).backgroundColor
            .match(/[\\d.]+/g).map(Number);
        if (a > 0) return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
    }
    return 1;  // nothing painted: the browser's white
}"""


def fits_the_width(page: Page) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow} px wider than the window"


@pytest.mark.parametrize(
    ("scheme", "width"), [("light", 1280), ("dark", 1280), ("light", 400), ("dark", 400)]
)
def test_main_pages(manager: Manager, new_page: NewPage, scheme: str, width: int) -> None:
    user = f"wanda-{scheme}-{width}"
    token = manager.token_for(user)
    workspace = create_by_api(
        manager, token, user, "a notebook with a rather long name that wraps in a narrow window"
    )
    name = workspace["display_name"]
    size = "wide" if width > 600 else "narrow"
    page = new_page(width=width, height=800, color_scheme=scheme)

    def check(page: Page, what: str, shot: str) -> None:
        luminance = page.evaluate(BACKGROUND_LUMINANCE)
        if scheme == "dark":
            assert luminance < 0.3, f"{what} is not dark ({luminance:.2f})"
        else:
            assert luminance > 0.7, f"{what} is not light ({luminance:.2f})"
        fits_the_width(page)
        screenshot(page, f"{shot}-{scheme}-{size}")
        assert_accessible(page, f"{what} ({scheme}, {width} px)")

    page.goto("app/#/signin")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    check(page, "the sign-in page", "signin")

    sign_in(page, token, user)
    card = workspace_card(page, name)
    expect(card).to_be_visible()
    check(page, "the list", "list")

    dialog = open_create_dialog(page)
    check(page, "the create dialog", "create-dialog")
    # Usable at this width: filled in and sent (Playwright scrolls to the button as a user
    # would), without starting it.
    dialog.get_by_label("Name").fill("second")
    dialog.get_by_label("Start now").uncheck()
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    expect(workspace_card(page, "second")).to_be_visible()
    fits_the_width(page)

    card.get_by_role("button", name="Details").click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    check(page, "the details page", "details")

    # The administrator's pages (reached by their addresses: the nav may fold away when narrow).
    admin = new_page(width=width, height=800, color_scheme=scheme)
    sign_in(admin, manager.admin_token, "admin")
    admin.goto("app/#/admin/workspaces")
    expect(admin.get_by_role("heading", level=1, name="All workspaces")).to_be_visible()
    expect(admin.get_by_text(name).first).to_be_visible()
    check(admin, "all workspaces", "admin-workspaces")
    admin.goto("app/#/admin/tokens")
    expect(admin.get_by_role("heading", level=1, name="User tokens")).to_be_visible()
    check(admin, "user tokens", "admin-tokens")
    admin.goto("app/#/admin/metrics")
    expect(admin.get_by_label("Stopped", exact=True)).to_have_text(re.compile(r"^[1-9]"))
    check(admin, "metrics", "admin-metrics")


def test_ml_labs_project_query_in_the_hash_is_tolerated(
    manager: Manager, new_page: NewPage
) -> None:
    """ML Lab opens the extension at `#/users/<id>/workspace?project=<id>`."""
    token = manager.token_for("xena")
    workspace = create_by_api(manager, token, "xena", "xena's notebook")
    page = new_page()
    sign_in(page, token, "xena")
    page.goto("app/#/users/xena/workspace?project=ctxy-global")
    expect(page.get_by_role("heading", level=1, name="Workspaces")).to_be_visible()
    expect(workspace_card(page, "xena's notebook")).to_be_visible()
    expect(page).to_have_url(list_url("xena"))
    page.goto(f"app/#/users/xena/workspace/{workspace['id']}?project=ctxy-global")
    expect(page.get_by_role("heading", level=1, name="xena's notebook")).to_be_visible()


def focus_by_tab(page: Page, role: str, name: str, presses: int = 30) -> None:
    """Tab until the element with this role and name has the focus, as a keyboard user does."""
    target = page.get_by_role(role, name=name, exact=True)  # type: ignore[arg-type]
    for _ in range(presses):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    pytest.fail(f"{role} '{name}' was not reached with {presses} presses of Tab")


def test_a_workspace_is_created_from_the_keyboard(manager: Manager, new_page: NewPage) -> None:
    page = new_page()
    sign_in(page, manager.token_for("yann"), "yann")
    focus_by_tab(page, "button", "New workspace")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="New workspace")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    focus_by_tab(page, "button", "New workspace")
    page.keyboard.press("Enter")
    expect(dialog.get_by_label("Name")).to_be_editable()
    focus_by_tab(page, "textbox", "Name")
    page.keyboard.press("Control+A")
    page.keyboard.type("typed")
    focus_by_tab(page, "checkbox", "Start now")
    page.keyboard.press("Space")
    expect(dialog.get_by_label("Start now")).not_to_be_checked()
    focus_by_tab(page, "button", "Create")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(workspace_card(page, "typed")).to_be_visible()
