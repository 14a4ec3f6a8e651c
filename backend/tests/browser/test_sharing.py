"""Sharing a workspace, in Chromium against the built image: the owner shares from the web app,
the grantee finds it under "Shared with me" and works in it (a kernel, over its WebSocket) on
the workspace's own origin, an administrator sees the share, and revoking it ends the grantee's
page and socket within the bound of any ended access."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.image.test_image import create_running
from tests.support.browser import NewPage
from tests.support.manager_image import Manager

from .test_workspace_origins import SESSION_END_BOUND, ended, watch
from .ui import (
    WORKSPACE_TIMEOUT,
    assert_accessible,
    open_in_new_tab,
    screenshot,
    sign_in,
    workspace_origin,
)


def share_dialog(page: Page, card: Locator, name: str) -> Locator:
    card.get_by_role("button", name="Share").click()
    dialog = page.get_by_role("dialog", name=f"Share “{name}”")
    expect(dialog).to_be_visible()
    return dialog


def choose(page: Page, field: Locator, option: str) -> None:
    field.click()
    page.get_by_role("option", name=option, exact=True).click()


def shared_card(page: Page, name: str) -> Locator:
    section = page.get_by_role("region", name="Shared with me")
    return section.get_by_role("article", name=name, exact=True)


def test_share_open_operate_and_revoke(manager: Manager, new_page: NewPage) -> None:
    owner_token, grantee_token = manager.token_for("olga"), manager.token_for("gus")
    workspace = create_running(manager, owner_token, "olga", display_name="team-notebook")

    # The owner shares it with gus, who may also start and stop it.
    owner = new_page()
    sign_in(owner, owner_token, "olga")
    card = owner.get_by_role("article", name="team-notebook", exact=True)
    dialog = share_dialog(owner, card, "team-notebook")
    expect(dialog.get_by_role("note")).to_contain_text("runs code in this workspace as you")
    expect(dialog).to_contain_text("Only you (and administrators) can open this workspace.")
    dialog.get_by_label("User id").fill("gus")
    choose(owner, dialog.get_by_label("They may"), "Open, start and stop")
    dialog.get_by_role("button", name="Share", exact=True).click()
    who = dialog.get_by_role("list", name="Who has access")
    expect(who.get_by_role("listitem")).to_have_count(1)
    expect(who).to_contain_text("gus")
    assert_accessible(owner, "share dialog")
    screenshot(owner, "share-dialog")

    # gus finds it under "Shared with me", with its owner, and may stop it but not change it.
    grantee = new_page()
    sign_in(grantee, grantee_token, "gus")
    shared = shared_card(grantee, "team-notebook")
    expect(shared).to_contain_text("olga")
    expect(shared.get_by_role("button", name="Stop")).to_be_visible()
    for absent in ("Settings", "Share", "Delete"):
        expect(shared.get_by_role("button", name=absent)).to_have_count(0)
    assert_accessible(grantee, "shared with me")
    screenshot(grantee, "shared-with-me")

    # gus opens it and works in it: on the workspace's own origin, a kernel and its socket.
    tab = open_in_new_tab(grantee, shared)
    workspace_origin(manager.port, tab)
    watch(tab)

    # Down to "open": gus's Stop goes; his work goes on.
    choose(owner, dialog.get_by_label("Access of gus"), "Open")
    expect(dialog.get_by_label("Access of gus")).to_have_text("Open")
    grantee.reload()
    shared = shared_card(grantee, "team-notebook")
    expect(shared.get_by_role("button", name="Open")).to_be_visible()
    expect(shared.get_by_role("button", name="Stop")).to_have_count(0)
    assert tab.evaluate("() => window.watched.closed") is None

    # An administrator sees the share.
    admin = new_page()
    sign_in(admin, manager.admin_token, "admin")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Shares").click()
    row = admin.get_by_role("row").filter(has_text=workspace["id"])
    expect(row).to_contain_text("olga")
    expect(row).to_contain_text("gus")
    assert_accessible(admin, "all shares")

    # The owner revokes: gus's page is refused and his socket closed within the bound.
    now = tab.evaluate("() => Date.now()")
    dialog.get_by_role("button", name="Revoke gus").click()
    expect(who).to_have_count(0)
    http_after, socket_after, status, code = ended(tab, now)
    print(f"after revoking a share: HTTP refused after {http_after:.1f} s, WebSocket closed "
          f"after {socket_after:.1f} s (code {code})")  # fmt: skip
    assert status == 403
    assert code == 1008
    assert http_after <= SESSION_END_BOUND and socket_after <= SESSION_END_BOUND
    grantee.reload()
    expect(grantee.get_by_role("heading", level=1, name="Workspaces")).to_be_visible()
    expect(grantee.get_by_role("region", name="Shared with me")).to_have_count(0)

    # Shared again to operate: gus stops it from his list, and the owner sees it stopped.
    with manager.client(owner_token) as api:
        again = api.put(
            f"/api/users/olga/workspace/{workspace['id']}/shares/gus", json={"access": "operate"}
        )
    assert again.status_code == 200, again.text
    grantee.reload()
    shared = shared_card(grantee, "team-notebook")
    shared.get_by_role("button", name="Stop").click()
    expect(shared.get_by_text("stopped", exact=True)).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    owner.keyboard.press("Escape")
    owner.reload()
    expect(card.get_by_text("stopped", exact=True)).to_be_visible(timeout=WORKSPACE_TIMEOUT)
