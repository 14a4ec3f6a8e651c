"""A schedule, set in the web app in Chromium against the built image: the create dialog's
schedule fields, what the card says comes next ("Stops today at 20:00 unless you postpone",
"Starts tomorrow at 08:00"), postponing, and removing the schedule in the settings.

The browser's clock is fixed (Playwright's clock) at the moment the expectations are computed
from, so "today" and "tomorrow" cannot change under the test; the schedule's times are chosen
from it. That the manager acts on a schedule is tested with its own injected clock
(tests/api/test_schedules.py) and on the real engine (tests/docker/test_schedule.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.manager_image import Manager

from .ui import WORKSPACE_TIMEOUT, assert_accessible, open_create_dialog, screenshot, sign_in

ZONE = "Asia/Tokyo"


@pytest.fixture
def tokyo_page(browser: Browser, manager: Manager) -> Iterator[Page]:
    """A browser in Tokyo, with 24-hour clocks, its clock fixed at the real now."""
    context = browser.new_context(
        base_url=manager.browser_url + "/", timezone_id=ZONE, locale="en-GB"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.clock.set_fixed_time(datetime.now().astimezone())
    yield page
    context.close()


def said(moment: datetime, now: datetime) -> str:
    """What the web app says of `moment` (Tokyo time), as the card shows it."""
    days = (moment.date() - now.date()).days
    day = {0: "today", 1: "tomorrow"}.get(days, moment.strftime("%a %-d %b"))
    return f"{day} at {moment:%H:%M}"


def test_a_schedule_in_the_web_app(manager: Manager, tokyo_page: Page) -> None:
    page = tokyo_page
    now = datetime.now(ZoneInfo(ZONE)).replace(second=0, microsecond=0)
    stop_at, start_at = now + timedelta(hours=2), now + timedelta(hours=3)
    sign_in(page, manager.token_for("sofia"), "sofia")

    dialog = open_create_dialog(page)
    dialog.get_by_label("Name").fill("nightly")
    dialog.get_by_label("Start and stop on a schedule").check()
    expect(dialog.get_by_role("combobox", name="Time zone")).to_have_text(ZONE)  # the browser's
    for day in ("Sat", "Sun"):  # Mon–Fri are chosen already
        dialog.get_by_role("button", name=day, exact=True).click()
    dialog.get_by_label("Start at").fill(f"{start_at:%H:%M}")
    dialog.get_by_label("Stop at").fill(f"{stop_at:%H:%M}")
    assert_accessible(page, "create dialog with a schedule")
    screenshot(page, "schedule-create")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()

    card = page.get_by_role("article", name="nightly", exact=True)
    expect(card.get_by_text("running", exact=True)).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    expect(card).to_contain_text(f"Stops{said(stop_at, now)} unless you postpone")
    card.get_by_role("button", name="postpone").click()
    expect(card).to_contain_text(f"Stops{said(stop_at + timedelta(hours=1), now)} unless you")
    screenshot(page, "schedule-card")

    card.get_by_role("button", name="Stop", exact=True).click()
    expect(card.get_by_text("stopped", exact=True)).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    expect(card).to_contain_text(f"Starts{said(start_at, now)} (on its schedule)")

    card.get_by_role("button", name="Settings").click()
    settings = page.get_by_role("dialog", name="Workspace settings")
    expect(settings.get_by_label("Start at")).to_have_value(f"{start_at:%H:%M}")
    settings.get_by_label("Start and stop on a schedule").uncheck()
    settings.get_by_role("button", name="Save").click()
    expect(settings).to_be_hidden()
    expect(card).not_to_contain_text("Starts")
