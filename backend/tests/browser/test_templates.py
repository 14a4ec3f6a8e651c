"""Templates in Chromium against the built image: the create dialog starts with the template
picker and offers only the template's choices; a newer version is announced on the workspace
and applied from there; administrators see who is on which version."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.support.browser import NewPage
from tests.support.images import TEST_IMAGE
from tests.support.manager_image import Manager

from .ui import WORKSPACE_TIMEOUT, assert_accessible, open_create_dialog, screenshot, sign_in

TEAM = {
    "display_name": "Team small",
    "description": "The team's everyday notebook.",
    "images": [TEST_IMAGE],
    "cpus": {"default": 0.5, "min": 0.5, "max": 1},
    "memory": 256,
    "volume_size": 500,
    "environment": {"TEAM": "vision"},
}


@pytest.fixture
def team_template(manager: Manager) -> Iterator[None]:
    """Defined for this test only: the manager is shared with the other browser tests."""
    with manager.client(manager.admin_token) as admin:
        assert admin.put("/api/templates/team-small", json=TEAM).status_code == 200
    yield
    with manager.client(manager.admin_token) as admin:
        admin.delete("/api/templates/team-small")


def test_create_from_a_template_and_apply_its_newer_version(
    manager: Manager, new_page: NewPage, team_template: None
) -> None:
    page = new_page()
    sign_in(page, manager.token_for("tom"), "tom")
    dialog = open_create_dialog(page)
    expect(dialog.get_by_role("combobox", name="Template")).to_have_text("Team small")
    expect(dialog.get_by_text("The team's everyday notebook.")).to_be_visible()
    expect(dialog.get_by_label("Memory (MB)")).to_be_disabled()
    dialog.get_by_label("CPUs").fill("2")
    expect(dialog.get_by_text("From 0.5 to 1 CPUs.")).to_be_visible()
    dialog.get_by_label("CPUs").fill("1")
    dialog.get_by_label("Name").fill("from-template")
    assert_accessible(page, "create dialog with templates")
    screenshot(page, "template-create")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    card = page.get_by_role("article", name="from-template", exact=True)
    expect(card.get_by_text("running", exact=True)).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    expect(card).to_contain_text("1 CPU, 256 MB memory")

    with manager.client(manager.admin_token) as admin:
        newer = admin.put("/api/templates/team-small", json={**TEAM, "memory": 300})
    assert newer.status_code == 200, newer.text
    page.reload()
    notice = card.get_by_role("status").filter(has_text="A newer version of your template")
    expect(notice).to_contain_text("“Team small”")
    screenshot(page, "template-newer")
    notice.get_by_role("button", name="Apply").click()
    expect(notice).to_have_count(0, timeout=WORKSPACE_TIMEOUT)
    expect(card).to_contain_text("300 MB memory")

    admin_page = new_page()
    sign_in(admin_page, manager.admin_token, "admin")
    admin_page.get_by_role("navigation", name="Main").get_by_role("link", name="Templates").click()
    table = admin_page.get_by_role("table", name="Templates")
    table.get_by_role("button", name="Who uses team-small").click()
    uses = admin_page.get_by_role("table", name="Who uses it")
    expect(uses).to_contain_text("tom")
    expect(uses).to_contain_text(f"{newer.json()['version']} (latest)")
    assert_accessible(admin_page, "templates page")
