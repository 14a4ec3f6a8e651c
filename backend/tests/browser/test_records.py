"""The audit log and usage in Chromium against the built image: a user's workspace shows up
in their own Activity and Usage, with its time counted by the running manager; an
administrator finds the same in the audit log (filtered, with the address it came from), in
the usage chart and table, and downloads both as CSV."""

from __future__ import annotations

import csv
import io
import secrets

from playwright.sync_api import expect

from tests.support.browser import NewPage
from tests.support.manager_image import Manager

from .ui import (
    WORKSPACE_TIMEOUT,
    assert_accessible,
    create_workspace,
    screenshot,
    sign_in,
    status_chip,
)

COUNTED = 20_000  # ms: the manager counts every 2 s; the page reloads its data when asked


def test_a_users_activity_and_usage_and_the_administrators_log(
    manager: Manager, new_page: NewPage
) -> None:
    user = "rita-" + secrets.token_hex(2)
    page = new_page()
    sign_in(page, manager.token_for(user), user)
    card = create_workspace(page, "counted")
    expect(status_chip(card, "running")).to_be_visible(timeout=WORKSPACE_TIMEOUT)

    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Activity").click()
    mine = page.get_by_role("table", name="Activity on your workspaces")
    expect(mine.get_by_role("row").filter(has_text="Create workspace")).to_contain_text("'counted'")
    assert_accessible(page, "activity page")

    nav.get_by_role("link", name="My usage").click()
    table = page.get_by_role("table", name="Usage per workspace")
    row = table.get_by_role("row").filter(has_text="counted")
    # Counted while it runs: reload until its running time shows (a few seconds).
    for _ in range(10):
        if row.count() and not row.first.get_by_role("cell").nth(1).inner_text().startswith("0.00"):
            break
        page.wait_for_timeout(2000)
        page.reload()
    expect(row).to_have_count(1)
    expect(page.get_by_role("img", name="Running hours per day (UTC)")).to_be_visible()
    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Export CSV").click()
    lines = list(csv.DictReader(io.StringIO(downloaded.value.path().read_text())))
    assert {line["owner"] for line in lines} == {user}
    assert float(lines[0]["running_hours"]) > 0
    assert_accessible(page, "usage page")
    screenshot(page, "usage-own")

    admin = new_page()
    sign_in(admin, manager.admin_token, "admin")
    admin_nav = admin.get_by_role("navigation", name="Main")
    admin_nav.get_by_role("link", name="Audit log").click()
    admin.get_by_label("Whose workspace").fill(user)
    log = admin.get_by_role("table", name="Audit log")
    # Until the filter's answer arrives, other users' entries are shown too: then every row
    # but the header is about the user.
    expect(log.get_by_role("row").filter(has_not_text=user)).to_have_count(1)
    created = log.get_by_role("row").filter(has_text="Create workspace").filter(has_text=user)
    expect(created).to_have_count(1)
    expect(created).to_contain_text("OK (201)")
    expect(created.get_by_role("cell").nth(4)).not_to_have_text("–")  # the address it came from
    with admin.expect_download() as downloaded:
        admin.get_by_role("link", name="Export CSV").click()
    entries = list(csv.DictReader(io.StringIO(downloaded.value.path().read_text())))
    assert {e["owner"] for e in entries} == {user}
    assert "createWorkspace" in {e["action"] for e in entries}
    assert_accessible(admin, "audit log")
    screenshot(admin, "audit-log")

    admin_nav.get_by_role("link", name="Usage").click()
    per_user = admin.get_by_role("table", name="Usage per user")
    expect(per_user.get_by_role("row").filter(has_text=user)).to_have_count(1, timeout=COUNTED)
    assert_accessible(admin, "usage page (administrators)")
