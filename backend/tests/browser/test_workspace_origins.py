"""Each workspace on an origin of its own (`<id>.lab.localhost:<port>`), in Chromium against the
built image: a workspace's page, which its owner controls byte for byte, gets nothing from the
session of whoever opens it; the hand-off code opens one workspace once; and a session ends,
HTTP and WebSockets, when the token it came from is revoked or the workspace stops.

The app is opened at `lab.localhost`, so every workspace origin is of the same *site* as the app
(as `<id>.lab.example.org` and `lab.example.org` are): the case where browsers send SameSite
cookies along and only the origin keeps pages apart."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import docker
from playwright.sync_api import Browser, Page, expect

from tests.image.test_image import create_running
from tests.support.browser import NewPage
from tests.support.images import ATTACKER_IMAGE
from tests.support.jupyter import start_kernel
from tests.support.manager_image import Manager

from .ui import WORKSPACE_TIMEOUT, open_in_new_tab, screenshot, sign_in, workspace_card

# The bound the README states: nginx remembers an access check's yes for 5 s and the backend
# checks bridged WebSockets every 5 s; a second of slack for a loaded machine.
SESSION_END_BOUND = 6.0


def open_link(manager: Manager, token: str, user: str, workspace_id: str) -> str:
    """What `:open` answers: the workspace's own origin with a one-time code."""
    with manager.client(token) as api:
        opened = api.post(f"/api/users/{user}/workspace/{workspace_id}:open")
    assert opened.status_code == 200, opened.text
    url = str(opened.json()["url"])
    # The test's browser reaches the manager at localhost: the same port.
    assert urlsplit(url).netloc == manager.workspace_host(workspace_id), url
    return url


def test_a_workspace_page_gets_nothing_from_whoever_opens_it(
    manager: Manager, new_page: NewPage
) -> None:
    """Mallory's workspace serves a script that tries everything with the visitor's session;
    vera (following mallory's link, her own workspace open in another tab) and an
    administrator (opening it from mallory's list) visit it."""
    vera_token, mallory_token = manager.token_for("vera"), manager.token_for("mallory")
    victim = create_running(manager, vera_token, "vera", display_name="vera-notes")
    with manager.workspace_client(victim["id"], vera_token) as client:
        kernel = start_kernel(victim["access_url"], client)
    attacker = create_running(
        manager, mallory_token, "mallory", display_name="free-gpus", container_image=ATTACKER_IMAGE
    )
    targets = {
        "manager": manager.browser_url + "/",
        "victim": manager.workspace_url(victim["id"]) + victim["access_url"],
        "victim_user": "vera",
        "victim_id": victim["id"],
        "kernel": kernel,
        "site": "lab.localhost",
        "toss": mallory_token,
    }
    with manager.workspace_client(attacker["id"], mallory_token) as client:
        assert client.post("/__targets", json=targets).status_code == 204
    with manager.client(manager.admin_token) as admin:
        tokens_before = admin.get("/api/auth/tokens").json()

    # vera: signed in, her own workspace open, then mallory's link.
    page = new_page()
    sign_in(page, vera_token, "vera")
    own = open_in_new_tab(page, workspace_card(page, "vera-notes"))
    attacked = page.context.new_page()
    attacked.goto(open_link(manager, mallory_token, "mallory", attacker["id"]))
    expect(attacked).to_have_title("attack finished", timeout=60_000)
    own.close()

    # An administrator opens mallory's workspace from mallory's list.
    admin_page = new_page()
    sign_in(admin_page, manager.admin_token, "admin")
    admin_page.goto("app/#/users/mallory/workspace")
    tab = open_in_new_tab_any_title(admin_page, workspace_card(admin_page, "free-gpus"))
    expect(tab).to_have_title("attack finished", timeout=60_000)
    screenshot(tab, "attack-finished-as-admin")

    # The cookies it tossed for the whole site sign nobody in as mallory and lock nobody out.
    page.reload()
    expect(page.get_by_text("Signed in as")).to_contain_text("vera")
    own = open_in_new_tab(page, workspace_card(page, "vera-notes"))
    own.close()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Access token")).to_be_visible()
    page.goto("app/#/users/mallory/workspace")
    expect(page.get_by_label("Access token")).to_be_visible()

    with manager.workspace_client(attacker["id"], mallory_token) as client:
        reports: list[dict[str, Any]] = client.get("/__reports").json()
    assert len(reports) == 2, reports
    for report in reports:
        # The manager: nothing read, nothing done with the visitor's session.
        for attempt in ("read_me", "list_workspaces", "issue_token", "open_victim"):
            assert report[attempt].startswith("blocked"), (attempt, report)
        # vera's workspace: nothing read, no WebSocket, no frame to look into.
        assert report["read_victim"].startswith("blocked"), report
        assert report["victim_socket"] == "refused", report
        for frame in ("frame_victim", "frame_app"):
            assert report[frame].startswith("blocked") or report[frame] == "no load", report
        # No credential is readable by the page.
        assert "ct_token" not in report["cookies"], report
        assert "workspace_session" not in report["cookies"], report
        assert "ct_token=" in report["tossed"], report  # the tossing itself did happen
    # ...and the blind writes changed nothing.
    with manager.client(manager.admin_token) as admin:
        assert admin.get("/api/auth/tokens").json() == tokens_before
    with manager.workspace_client(victim["id"], vera_token) as client:
        assert client.get(victim["access_url"] + "api/terminals").json() == []
        contents = client.get(victim["access_url"] + "api/contents").json()["content"]
        assert "stolen.txt" not in [item["name"] for item in contents]


def open_in_new_tab_any_title(page: Page, card: Any) -> Page:
    with page.context.expect_page() as opened:
        card.get_by_role("button", name="Open").click()
    return opened.value


def test_a_hand_off_code_opens_its_workspace_once_and_expires(
    manager: Manager, browser: Browser
) -> None:
    token = manager.token_for("hugo")
    first = create_running(manager, token, "hugo")
    second = create_running(manager, token, "hugo")

    def fresh_page() -> Page:
        return browser.new_context().new_page()

    link = open_link(manager, token, "hugo", first["id"])
    opened = fresh_page()
    opened.goto(link)
    expect(opened).to_have_title("Home Page - Select or create a notebook")
    assert opened.url.startswith(manager.workspace_url(first["id"]) + first["access_url"])
    assert "code=" not in opened.url  # gone from the address bar (and from Referer)

    again = fresh_page()
    again.goto(link)
    expect(again.locator("body")).to_contain_text("used already")

    # A code for one workspace, taken to another's origin.
    elsewhere = fresh_page()
    elsewhere.goto(
        open_link(manager, token, "hugo", first["id"]).replace(
            manager.workspace_host(first["id"]), manager.workspace_host(second["id"])
        )
    )
    expect(elsewhere.locator("body")).to_contain_text("for another workspace")

    late = open_link(manager, token, "hugo", second["id"])
    time.sleep(61)  # a code works for 60 s
    expired = fresh_page()
    expired.goto(late)
    expect(expired.locator("body")).to_contain_text("expired")
    for page in (opened, again, elsewhere, expired):
        page.context.close()


# From the workspace's page: a kernel, its WebSocket kept open, and a note of when and how
# it closes; then a request every 200 ms until one is refused.
WATCH_SCRIPT = """async () => {
    const base = document.body.dataset.baseUrl;
    const xsrf = decodeURIComponent(document.cookie.match(/_xsrf=([^;]+)/)[1]);
    const made = await fetch(base + "api/kernels",
                             {method: "POST", headers: {"X-XSRFToken": xsrf}});
    if (!made.ok) return "POST api/kernels answered " + made.status;
    const id = (await made.json()).id;
    const url = location.origin.replace(/^http/, "ws") + base + "api/kernels/" + id + "/channels";
    window.watched = {};
    const socket = new WebSocket(url);
    socket.onclose = (event) => { window.watched.closed = [Date.now(), event.code, event.reason]; };
    return await new Promise((resolve) => {
        socket.onopen = () => resolve("open");
        socket.onerror = () => resolve("error");
        setTimeout(() => resolve("no answer"), 30000);
    });
}"""
REFUSED_SCRIPT = """async () => {
    const base = document.body.dataset.baseUrl;
    while (true) {
        const answer = await fetch(base + "api/contents", {cache: "no-store"});
        if (!answer.ok) return [Date.now(), answer.status];
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}"""


def watch(tab: Page) -> None:
    # Jupyter's tree page, loaded (not still on its way there).
    expect(tab.locator("body[data-base-url]")).to_be_attached()
    tab.wait_for_load_state()
    assert tab.evaluate(WATCH_SCRIPT) == "open"
    tab.wait_for_timeout(500)
    assert tab.evaluate("() => window.watched.closed") is None  # still open


def ended(tab: Page, since_ms: float) -> tuple[float, float, int, int]:
    """(seconds until HTTP was refused, until the WebSocket closed, the status, the close
    code), measured from `since_ms` (the browser's clock)."""
    refused_at, status = tab.evaluate(REFUSED_SCRIPT)
    deadline = time.monotonic() + 30
    while tab.evaluate("() => window.watched.closed") is None and time.monotonic() < deadline:
        time.sleep(0.2)
    closed = tab.evaluate("() => window.watched.closed")
    assert closed, "the WebSocket stayed open for 30 s after access ended"
    return (refused_at - since_ms) / 1000, (closed[0] - since_ms) / 1000, status, closed[1]


def test_sessions_end_when_the_token_is_revoked_or_the_workspace_stops(
    manager: Manager, new_page: NewPage, engine: docker.DockerClient
) -> None:
    with manager.client(manager.admin_token) as admin:
        issued = admin.post("/api/auth/tokens", json={"user_id": "rosa"}).json()
    token = issued["token"]
    revoked_one = create_running(manager, token, "rosa", display_name="to-revoke")
    page = new_page()
    sign_in(page, token, "rosa")
    tab = open_in_new_tab(page, workspace_card(page, "to-revoke"))
    watch(tab)
    now = tab.evaluate("() => Date.now()")
    with manager.client(manager.admin_token) as admin:
        assert admin.delete(f"/api/auth/tokens/{issued['id']}").status_code == 204
    http_after, socket_after, status, code = ended(tab, now)
    print(f"after revoking: HTTP refused after {http_after:.1f} s, WebSocket closed after "
          f"{socket_after:.1f} s (code {code})")  # fmt: skip
    assert status == 401
    assert code == 1008
    assert http_after <= SESSION_END_BOUND and socket_after <= SESSION_END_BOUND
    assert revoked_one["status"] == "running"

    # Stopping: the workspace's own sessions end too (a new user, as rosa's token is gone).
    token = manager.token_for("sami")
    create_running(manager, token, "sami", display_name="to-stop")
    page = new_page()
    sign_in(page, token, "sami")
    card = workspace_card(page, "to-stop")
    tab = open_in_new_tab(page, card)
    watch(tab)
    now = tab.evaluate("() => Date.now()")
    card.get_by_role("button", name="Stop").click()
    http_after, socket_after, status, code = ended(tab, now)
    print(f"after stopping: HTTP refused after {http_after:.1f} s, WebSocket closed after "
          f"{socket_after:.1f} s (code {code})")  # fmt: skip
    assert status in (403, 502)
    # The stop itself takes up to the container's stop timeout; the sessions end with it.
    expect(card.get_by_text("stopped", exact=True)).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    assert socket_after <= 30 and http_after <= 30
