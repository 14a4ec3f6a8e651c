"""What the browser tests do on many pages: sign in, find a workspace, check accessibility, keep
a screenshot. Elements are found by role and accessible name (notes: the UI contract), never by
CSS class."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

ROOT = Path(__file__).resolve().parents[3]
# Kept by every run (gitignored) so a reviewer can look at the pages.
SCREENSHOTS = ROOT / "test-results" / "screenshots"
# axe-core is a devDependency of the web app: `npm ci` in webapp/ (build.py --make) brings it.
AXE_SCRIPT = ROOT / "webapp" / "node_modules" / "axe-core" / "axe.min.js"
# Long enough for a workspace to start (or stop) on a loaded 2-core machine.
WORKSPACE_TIMEOUT = 120_000


JUPYTER_TITLE = "Home Page - Select or create a notebook"


def list_url(user_id: str) -> re.Pattern[str]:
    return re.compile(rf"#/users/{re.escape(user_id)}/workspace(\?.*)?$")


def sign_in(page: Page, token: str, user_id: str) -> None:
    """Standalone sign-in with a token; ends on the user's own list."""
    page.goto("app/#/signin")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    # Chromium drops a request when the host's addresses change (the engine adds a bridge for
    # a user network it makes): the page says the server cannot be reached, and a person
    # signs in once more.
    unreachable = page.get_by_role("alert").filter(has_text="cannot be reached")
    signed_in = page.get_by_role("heading", level=1, name="Workspaces")
    expect(signed_in.or_(unreachable)).to_be_visible()
    if unreachable.is_visible():
        page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(list_url(user_id))
    expect(page.get_by_role("heading", level=1, name="Workspaces")).to_be_visible()


def workspace_card(page: Page, name: str) -> Locator:
    """A workspace on the list: an article (or list item) named by its display name."""
    article = page.get_by_role("article", name=name, exact=True)
    item = page.get_by_role("listitem", name=name, exact=True)
    return article.or_(item).first


def status_chip(card: Locator, status: str) -> Locator:
    return card.get_by_text(status, exact=True)


def open_in_new_tab(page: Page, card: Locator) -> Page:
    """Press the card's "Open"; the new tab, once Jupyter's page has its title."""
    with page.context.expect_page() as opened:
        card.get_by_role("button", name="Open").click()
    tab = opened.value
    expect(tab).to_have_title(JUPYTER_TITLE)
    return tab


def workspace_origin(manager_port: int, tab: Page) -> str:
    """The origin a workspace was opened on: its own, `http://<id>.lab.localhost:<port>`."""
    match = re.fullmatch(r"(http://[a-z][a-z0-9]{5,19}\.lab\.localhost:(\d+))/.*", tab.url)
    assert match, f"not on a workspace's own origin: {tab.url}"
    assert int(match.group(2)) == manager_port, tab.url
    return match.group(1)


def open_create_dialog(page: Page) -> Locator:
    page.get_by_role("button", name="New workspace").click()
    dialog = page.get_by_role("dialog", name="New workspace")
    expect(dialog).to_be_visible()
    # The form is driven by GET /config: wait until it is filled in.
    expect(dialog.get_by_label("Name")).to_be_editable()
    return dialog


def create_workspace(
    page: Page, name: str, start_now: bool = True, cpus: str = "", memory: str = ""
) -> Locator:
    """Create through the dialog (CPUs and memory as given, else the defaults); returns the
    workspace's card."""
    dialog = open_create_dialog(page)
    dialog.get_by_label("Name").fill(name)
    if cpus:
        dialog.get_by_label("CPUs").fill(cpus)
    if memory:
        dialog.get_by_label("Memory (MB)").fill(memory)
    if not start_now:
        dialog.get_by_label("Start now").uncheck()
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    card = workspace_card(page, name)
    expect(card).to_be_visible()
    return card


# Resolves when every finite animation and transition (MUI's fades, slides, ripples) has ended;
# spinners and progress bars run forever and are left out.
SETTLED = """() => Promise.all(document.getAnimations()
    .filter(animation => animation.effect?.getComputedTiming().endTime !== Infinity)
    .map(animation => animation.finished.catch(() => null)))"""


def settle(page: Page) -> None:
    """Wait for the page to stop moving: half-faded elements have colours nobody sees."""
    page.evaluate(SETTLED)


def screenshot(page: Page, name: str) -> None:
    settle(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)


def assert_accessible(page: Page, where: str) -> None:
    """No serious or critical axe-core violations on what the page shows now."""
    if not AXE_SCRIPT.exists():
        pytest.fail(f"{AXE_SCRIPT} is missing: run 'npm ci' in webapp/ (build.py --make does).")
    settle(page)
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated, not added as a <script>: the app's Content-Security-Policy rightly
        # refuses inline scripts, and evaluation by the test driver is outside its reach.
        page.evaluate(AXE_SCRIPT.read_text())
    results: dict[str, Any] = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
    )
    bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
    report = [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [
                {"target": n["target"], "summary": n.get("failureSummary", "")}
                for n in v["nodes"][:5]
            ],
        }
        for v in bad
    ]
    assert not bad, f"axe-core on {where}:\n{json.dumps(report, indent=2)}"
