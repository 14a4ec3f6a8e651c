"""What the browser tests share besides fixtures: Chromium's settings, and the built image
started for them (`start_browser_manager`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docker
import httpx
import pytest
from playwright.sync_api import Page

from tests.support.manager_image import Manager, start_manager, stop_manager

CHROMIUM = Path("/usr/bin/chromium")
# Quiet and self-contained: no first-run UI, no calls home, no GPU on a headless CI machine.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Settings of the managers these tests start: small workspaces, so several fit on 2 cores.
BROWSER_MANAGER_ENVIRONMENT = {
    "WORKSPACE_CPUS_DEFAULT": "0.5",
    "WORKSPACE_MEMORY_MB_DEFAULT": "256",
    "WORKSPACE_VOLUME_SIZE": "500",
    "WORKSPACE_MAX_VOLUME_SIZE": "2000",
    # Usage is counted every 2 s, so that a test sees its workspace's time within seconds.
    "ACCOUNTING_INTERVAL": "2",
}
# The type of the browser suite's `new_page` fixture: a page in a fresh context.
NewPage = Callable[..., Page]


def start_browser_manager(
    engine: docker.DockerClient,
    environment: dict[str, str] | None = None,
    port: int | None = None,
) -> Manager:
    """The built image, failing loudly if it was built without the web app."""
    manager = start_manager(
        engine, environment={**BROWSER_MANAGER_ENVIRONMENT, **(environment or {})}, port=port
    )
    index = httpx.get(manager.url + "/app/", trust_env=False)
    # Vite's index.html loads the app as a module script; nginx's 404 page or an empty
    # /srv/app has none.
    if index.status_code != 200 or '<script type="module"' not in index.text:
        stop_manager(engine, manager)
        pytest.fail(
            "The image serves no web app at /app/ (status "
            f"{index.status_code}): run 'python3 build.py --make' with webapp/ present."
        )
    return manager


# The path under which ML Lab shows an extension; its proxy strips it before the manager.
ML_LAB_PREFIX = "/projects/ctxy-global/services/lab-ws/access/8080"
