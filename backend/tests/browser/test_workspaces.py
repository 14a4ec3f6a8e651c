"""A workspace's whole life in the browser, checked on the engine: create, watch it start, open
it (new tab and embedded), resize, stop, start, delete keeping or deleting its data."""

from __future__ import annotations

import re
import time
from typing import Any

import docker
from playwright.sync_api import Page, expect

from tests.support.browser import NewPage
from tests.support.manager_image import Manager

from .ui import (
    WORKSPACE_TIMEOUT,
    assert_accessible,
    create_workspace,
    open_create_dialog,
    open_in_new_tab,
    screenshot,
    sign_in,
    status_chip,
    workspace_card,
)

# Shown by Jupyter's file list once its page has rendered.
JUPYTER_FILE_LIST = "Select items to perform actions on them."


def labelled(manager: Manager, workspace_id: str, kind: str) -> dict[str, list[str]]:
    return {
        "label": [
            f"lwm.instance={manager.instance}",
            f"lwm.kind={kind}",
            f"lwm.workspace={workspace_id}",
        ]
    }


def workspace_container(engine: docker.DockerClient, manager: Manager, workspace_id: str) -> Any:
    found = engine.containers.list(filters=labelled(manager, workspace_id, "workspace"))
    assert len(found) == 1, found
    return found[0]


def volumes_of(engine: docker.DockerClient, manager: Manager, workspace_id: str) -> list[Any]:
    return list(engine.volumes.list(filters=labelled(manager, workspace_id, "volume")))


def wait_for(condition: Any, what: str, seconds: float = 30) -> None:
    """Polls the engine (not the UI) for a state the UI already reported as reached."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def workspace_id_from_details(page: Page, user: str) -> str:
    match = re.search(rf"#/users/{user}/workspace/([^/?]+)", page.url)
    assert match, page.url
    return match.group(1)


def test_create_watch_open_resize_stop_start_delete(
    manager: Manager, new_page: NewPage, engine: docker.DockerClient
) -> None:
    name = "Lena's notebook"
    page = new_page()
    sign_in(page, manager.token_for("lena"), "lena")

    dialog = open_create_dialog(page)
    screenshot(page, "create-dialog-light-wide")
    assert_accessible(page, "the create dialog")
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()

    # Progress from the events stream, until it answers.
    card = workspace_card(page, name)
    progress = card.get_by_role("progressbar", name="Start progress")
    expect(progress).to_be_visible()
    screenshot(page, "list-starting-light-wide")
    expect(status_chip(card, "running")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    expect(progress).to_be_hidden()
    screenshot(page, "list-running-light-wide")
    assert_accessible(page, "the list with a running workspace")

    # Open: a new tab with Jupyter in it.
    tab = open_in_new_tab(page, card)
    expect(tab.get_by_text(JUPYTER_FILE_LIST)).to_be_visible()
    tab.close()

    # Details, and Jupyter embedded in the page.
    card.get_by_role("button", name="Details").click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    workspace_id = workspace_id_from_details(page, "lena")
    screenshot(page, "details-light-wide")
    assert_accessible(page, "the details page")
    page.get_by_role("tab", name="Open here").click()
    frame = page.get_by_title(f"Workspace {name}").content_frame
    expect(frame.get_by_text(JUPYTER_FILE_LIST)).to_be_visible()
    screenshot(page, "details-open-here-light-wide")

    # Resize: CPU and memory apply live; the engine has the new limits.
    page.go_back()
    card = workspace_card(page, name)
    expect(status_chip(card, "running")).to_be_visible()
    card.get_by_role("button", name="Settings").click()
    settings = page.get_by_role("dialog", name="Workspace settings")
    expect(settings).to_be_visible()
    screenshot(page, "settings-dialog-light-wide")
    assert_accessible(page, "the settings dialog")
    settings.get_by_label("CPUs").fill("1")
    settings.get_by_label("Memory (MB)").fill("300")
    settings.get_by_role("button", name="Save").click()
    expect(settings).to_be_hidden()

    def resized() -> bool:
        host_config = workspace_container(engine, manager, workspace_id).attrs["HostConfig"]
        return bool(
            host_config["NanoCpus"] == 1_000_000_000 and host_config["Memory"] == 300 * 1024**2
        )

    wait_for(resized, "the engine to show 1 CPU and 300 MB")
    expect(status_chip(card, "running")).to_be_visible(timeout=WORKSPACE_TIMEOUT)

    # Stop, then start again, watching the UI.
    card.get_by_role("button", name="Stop").click()
    expect(status_chip(card, "stopped")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    assert engine.containers.list(filters=labelled(manager, workspace_id, "workspace")) == []
    screenshot(page, "list-stopped-light-wide")
    card.get_by_role("button", name="Start").click()
    expect(status_chip(card, "running")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    assert workspace_container(engine, manager, workspace_id).status == "running"

    # Delete, keeping the data: the volume stays.
    card.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete workspace")
    expect(confirm).to_be_visible()
    keep = confirm.get_by_label("Also delete its data in /workspace")
    expect(keep).not_to_be_checked()
    screenshot(page, "delete-dialog-light-wide")
    assert_accessible(page, "the delete dialog")
    confirm.get_by_role("button", name="Delete").click()
    expect(card).to_be_hidden(timeout=WORKSPACE_TIMEOUT)
    wait_for(
        lambda: (
            not engine.containers.list(
                all=True,
                ignore_removed=True,  # one may go between the engine's list and its inspect
                filters={
                    "label": [f"lwm.instance={manager.instance}", f"lwm.workspace={workspace_id}"]
                },
            )
        ),
        "the workspace's containers to go",
    )
    assert len(volumes_of(engine, manager, workspace_id)) == 1

    # Another, not started, deleted with its data: the volume goes.
    card = create_workspace(page, "scratch", start_now=False)
    expect(status_chip(card, "stopped")).to_be_visible(timeout=WORKSPACE_TIMEOUT)
    card.get_by_role("button", name="Details").click()
    scratch_id = workspace_id_from_details(page, "lena")
    page.go_back()
    assert len(volumes_of(engine, manager, scratch_id)) == 1
    card.get_by_role("button", name="Delete").click()
    confirm = page.get_by_role("dialog", name="Delete workspace")
    confirm.get_by_label("Also delete its data in /workspace").check()
    confirm.get_by_role("button", name="Delete").click()
    expect(card).to_be_hidden(timeout=WORKSPACE_TIMEOUT)
    wait_for(lambda: not volumes_of(engine, manager, scratch_id), "the volume to be deleted")
    expect(page.get_by_text("No workspaces yet")).to_be_visible()
