"""The web app in real Chromium (Debian's /usr/bin/chromium), against the built image on the real
Docker engine.

Python Playwright drives the browser; its own browser download is never used. Each `launch`
gets a fresh temporary profile (Playwright makes and removes the user-data directory), and each
test works in contexts of its own (cookies, storage, viewport, colour scheme), closed after it.
The tests fail, never skip, when Chromium, the image or the web app inside it is missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ML_LAB_PREFIX,
    NewPage,
    start_browser_manager,
)
from tests.support.manager_image import Manager, behind_a_proxy, stop_manager

# Long enough for a workspace to start on a loaded 2-core machine; the UI is watched, not slept on.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does).")
    # Package scope: Playwright's event loop ends before the async tests of other packages run.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture(scope="package")
def manager(engine: docker.DockerClient) -> Iterator[Manager]:
    running = start_browser_manager(engine)
    yield running
    stop_manager(engine, running)


@pytest.fixture(scope="module")
def behind_ml_lab(engine: docker.DockerClient) -> Iterator[Manager]:
    """The image as ML Lab runs it: told the prefix that ML Lab's proxy strips, and where
    browsers reach it directly, for the workspaces' own origins."""
    environment, port = behind_a_proxy({"WORKSPACE_PUBLIC_PREFIX": ML_LAB_PREFIX})
    running = start_browser_manager(engine, environment, port)
    yield running
    stop_manager(engine, running)


@pytest.fixture
def new_page(browser: Browser, manager: Manager) -> Iterator[NewPage]:
    """Pages in fresh contexts on `manager` (or another, or any base URL), closed after the
    test."""
    contexts = []

    def make(
        width: int = 1280,
        height: int = 800,
        color_scheme: str = "light",
        on: Manager | None = None,
        base_url: str | None = None,
    ) -> Page:
        context = browser.new_context(
            # Pages go to relative URLs ("app/#/..."), so a base with a path prefix works too.
            base_url=base_url or (on or manager).browser_url + "/",
            viewport={"width": width, "height": height},
            color_scheme=color_scheme,  # type: ignore[arg-type]
        )
        context.set_default_timeout(15_000)  # actions, like expect: fail in seconds
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
