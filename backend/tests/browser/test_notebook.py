"""A workspace used for work, as a data scientist uses it: opened from the web app, a new
notebook, a cell run and its output seen, saved, the page reloaded and the work still there,
then a terminal. Every step is the browser's own request through the manager's proxy (with the
page's Origin, Jupyter's _xsrf cookie, WebSockets), on a port that is not 80, standalone and
under ML Lab's path prefix.

Loading a workspace's page is not enough: Jupyter refuses API calls and WebSockets whose
Origin does not match the Host it is given, and a proxy that forwards the host without the
port let the page load while every save and every kernel failed."""

from __future__ import annotations

import re
import secrets

from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.support.browser import ML_LAB_PREFIX, NewPage
from tests.support.manager_image import Manager

from .prefix_proxy import prefix_proxy
from .ui import (
    WORKSPACE_TIMEOUT,
    create_workspace,
    open_in_new_tab,
    screenshot,
    sign_in,
    status_chip,
    workspace_origin,
)

# A kernel starts in seconds, but on a loaded 2-core machine it may take longer.
KERNEL_TIMEOUT = 60_000


def test_a_notebook_is_written_run_and_saved_through_the_manager(
    manager: Manager, new_page: NewPage
) -> None:
    assert not manager.url.endswith((":80", ":443"))  # the port is part of the origin
    page = new_page()
    sign_in(page, manager.token_for("nora"), "nora")
    work_in_a_new_workspace(page, "nora", manager.port, "")


def test_a_notebook_works_under_ml_labs_prefix(behind_ml_lab: Manager, new_page: NewPage) -> None:
    token = behind_ml_lab.token_for("omar")
    with prefix_proxy(behind_ml_lab.url, ML_LAB_PREFIX) as (url, outside):
        page = new_page(base_url=url + "/")
        page.goto("app/")
        sign_in(page, token, "omar")
        work_in_a_new_workspace(page, "omar-prefix", behind_ml_lab.port, ML_LAB_PREFIX)
        page.context.close()  # its event streams and WebSockets end before the proxy does
    assert [path for path in outside if path != "/favicon.ico"] == []


def work_in_a_new_workspace(page: Page, name: str, manager_port: int, prefix: str) -> None:
    """On the workspace's own origin (reached directly, also behind ML Lab), at its base path.
    A whole CPU and 512 MB, as a notebook gets in use: with the browser tests' small defaults
    (0.5 CPU, 256 MB) Jupyter's page was once left blank on a loaded 2-core machine."""
    troubles = watch_requests(page)
    card = create_workspace(page, name, cpus="1", memory="512")
    expect(status_chip(card, "running")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    tree = open_in_new_tab(page, card)
    origin = workspace_origin(manager_port, tree)
    assert tree.url.startswith(origin + prefix + "/workspaces/"), tree.url

    try:
        try:
            notebook = new_notebook(tree)
        except (AssertionError, PlaywrightTimeoutError):
            if not any("ERR_NETWORK_CHANGED" in trouble for trouble in troubles):
                raise
            # Chromium drops what it is loading when the host's addresses change (the engine
            # adds a bridge for a network it makes): as a person would, the test reloads once.
            troubles.clear()
            tree.reload()
            notebook = new_notebook(tree)
    except (AssertionError, PlaywrightTimeoutError) as exc:
        screenshot(tree, f"notebook-{name}-failed-tree")  # what the page showed instead
        raise AssertionError(
            f"no new notebook from the page at {tree.url}; failed or refused requests: "
            f"{troubles or 'none'}"
        ) from exc
    answer = str(secrets.randbelow(10**6) * 7)
    run_cell(notebook, f"print({int(answer) // 7} * 7)", answer)
    save(notebook)
    screenshot(notebook, f"notebook-{name}-saved")
    saved_as = notebook.url

    # Reloaded, the notebook still has the cell and its output: it was saved, not only shown.
    notebook.reload()
    expect(notebook.locator(".input_area").first).to_contain_text(f"{int(answer) // 7} * 7")
    expect(notebook.locator(".output_area").first).to_contain_text(answer)
    assert notebook.url == saved_as
    # The kernel still answers after the reload (a new WebSocket).
    run_cell(notebook, "print('still' + ' here')", "still here", cell=1)

    terminal_writes(tree, f"terminal-{answer}")
    notebook.close()
    tree.close()


def watch_requests(page: Page) -> list[str]:
    """Requests of the page's context (its tabs included) that failed or were refused, to
    say why a page did not work."""
    seen: list[str] = []
    page.context.on(
        "requestfailed", lambda request: seen.append(f"{request.url} failed: {request.failure}")
    )
    page.context.on(
        "response",
        lambda response: (
            seen.append(f"{response.url} answered {response.status}")
            if response.status >= 400
            else None
        ),
    )
    return seen


def new_notebook(tree: Page) -> Page:
    """Jupyter's New → Python 3: a notebook in a tab of its own, its kernel ready."""
    # The menu lists kernels once Jupyter's page has fetched them: wait for that first.
    expect(tree.locator("#kernel-python3")).to_be_attached(timeout=KERNEL_TIMEOUT)
    tree.get_by_role("button", name="New").click()
    with tree.context.expect_page() as opened:
        tree.locator("#new-menu").get_by_role("menuitem", name="python3").click()
    notebook = opened.value
    expect(notebook.locator("#kernel_indicator_icon")).to_have_class(
        re.compile("kernel_idle_icon"), timeout=KERNEL_TIMEOUT
    )
    return notebook


def run_cell(notebook: Page, code: str, output: str, cell: int = 0) -> None:
    """Type into a cell, run it with Shift+Enter, and see its output under it."""
    cells = notebook.locator(".cell.code_cell")
    target = cells.nth(cell)
    expect(target).to_be_visible()
    target.locator(".CodeMirror").click()
    notebook.keyboard.type(code)
    notebook.keyboard.press("Shift+Enter")
    expect(target.locator(".output_area")).to_contain_text(output, timeout=KERNEL_TIMEOUT)


def save(notebook: Page) -> None:
    """File → Save and Checkpoint; Jupyter says when the server has it."""
    notebook.locator("#filelink").click()
    notebook.locator("#save_checkpoint").click()
    expect(notebook.locator("#notification_notebook")).to_contain_text("Checkpoint created")
    expect(notebook.locator("#save_status, .autosave_status")).not_to_contain_text("unsaved")


# Jupyter's terminal protocol, spoken by the page itself: a terminal made with the page's
# _xsrf token, its WebSocket opened from the page's origin, a command sent, its output awaited.
# (The stand-in image's terminal page cannot draw: Debian's xterm.js is not the build notebook
# 6 loads, "exports is not defined". The requests are the same ones that page makes.)
TERMINAL_SCRIPT = """async ([command, expected]) => {
    const base = document.body.dataset.baseUrl;
    const xsrf = decodeURIComponent(document.cookie.match(/_xsrf=([^;]+)/)[1]);
    const made = await fetch(base + "api/terminals",
                             {method: "POST", headers: {"X-XSRFToken": xsrf}});
    if (!made.ok) return "POST api/terminals answered " + made.status;
    const name = (await made.json()).name;
    const url = location.origin.replace(/^http/, "ws") + base + "terminals/websocket/" + name;
    const socket = new WebSocket(url);
    return await new Promise(resolve => {
        let seen = "";
        setTimeout(() => resolve("no answer in 30 s: " + seen), 30000);
        socket.onopen = () => socket.send(JSON.stringify(["stdin", command + "\\r"]));
        socket.onerror = () => resolve("WebSocket error: " + seen);
        socket.onclose = event => resolve("WebSocket closed (" + event.code + "): " + seen);
        socket.onmessage = event => {
            const [kind, text] = JSON.parse(event.data);
            if (kind === "stdout") seen += text;
            if (seen.includes(expected)) { socket.onclose = null; socket.close(); resolve(seen); }
        };
    });
}"""


def terminal_writes(tree: Page, text: str) -> None:
    """A shell over a WebSocket, from the workspace's page, writes a file; the file list then
    shows it."""
    command = f"echo made-by-the-terminal > /workspace/{text}.txt && echo $((6 * 7))-done"
    seen = tree.evaluate(TERMINAL_SCRIPT, [command, "42-done"])
    assert "42-done" in seen, seen
    tree.reload()
    expect(tree.get_by_role("link", name=f"{text}.txt")).to_be_visible()
